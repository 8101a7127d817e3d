# Reference values from lme4 (and nlme) for where Days = 0 in the sleepstudy model.
#
# Chapters 5a, 5b and 6c teach that the correlated model (Days | Subject) is the same model
# wherever Days = 0 is put, while the uncorrelated (Days || Subject) is not. This script fits,
# by REML, with Days counted from the first day (Days) and centred at its mean (Days_c):
#   uncentred_cor    Reaction ~ Days + (Days | Subject)
#   uncentred_uncor  Reaction ~ Days + (Days || Subject)
#   centred_cor      Reaction ~ Days_c + (Days_c | Subject)
#   centred_uncor    Reaction ~ Days_c + (Days_c || Subject)
# and anova() of each uncorrelated model against its correlated one (ML refits), in the layout
# of scripts/lme4_lmer.R (so analysis.book.lme4.reference_from_record reads every fit).
#
# It also records, for chapter 5b's residual checks, nlme's answer to "does each subject have
# a residual SD of their own?": lme(Reaction ~ Days, random = ~ Days | Subject) against the
# same model with weights = varIdent(form = ~ 1 | Subject), both by REML (same fixed effects),
# and the REML fit without subject 332's largest residual.
#
# Usage (from anywhere):  Rscript scripts/lme4_centring.R [OUTPUT_DIR [DATA_DIR]]
# OUTPUT_DIR defaults to <repo>/data/reference (the JSON goes to
# OUTPUT_DIR/sleepstudy_centring_lme4.json); DATA_DIR defaults to <repo>/data, where
# scripts/lme4_lmer.R wrote sleepstudy.csv.

suppressPackageStartupMessages({
  library(lme4)
  library(nlme)
  library(jsonlite)
})

here <- function() {
  args <- commandArgs(trailingOnly = FALSE)
  hit <- grep("^--file=", args, value = TRUE)
  if (length(hit) == 0) stop("run this script with Rscript")
  normalizePath(sub("^--file=", "", hit[1]))
}

repo <- dirname(dirname(here()))
cli <- commandArgs(trailingOnly = TRUE)
out_dir <- if (length(cli) >= 1) cli[1] else file.path(repo, "data", "reference")
data_dir <- if (length(cli) >= 2) cli[2] else file.path(repo, "data")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

sleep <- read.csv(file.path(data_dir, "sleepstudy.csv"), stringsAsFactors = FALSE)
sleep$Subject <- factor(sleep$Subject)
centre <- mean(sleep$Days)
sleep$Days_c <- sleep$Days - centre

record <- function(fit, formula) {
  coefs <- coef(summary(fit))
  vc <- as.data.frame(VarCorr(fit))
  re <- as.data.frame(ranef(fit, condVar = TRUE))
  ml <- refitML(fit)
  list(
    file = "sleepstudy.csv",
    formula = formula,
    REML = isREML(fit),
    n_obs = nobs(fit),
    fixed = list(
      term = I(rownames(coefs)),
      estimate = I(unname(coefs[, "Estimate"])),
      se = I(unname(coefs[, "Std. Error"]))
    ),
    varcorr = list(
      grp = vc$grp,
      var1 = ifelse(is.na(vc$var1), "", vc$var1),
      var2 = ifelse(is.na(vc$var2), "", vc$var2),
      sdcor = vc$sdcor
    ),
    sigma = sigma(fit),
    reml_criterion = unname(REMLcrit(fit)),
    loglik = as.numeric(logLik(fit)),
    ml = list(deviance = unname(deviance(ml)), loglik = as.numeric(logLik(ml)),
              AIC = AIC(ml), BIC = BIC(ml)),
    ranef = list(
      grpvar = as.character(re$grpvar),
      term = as.character(re$term),
      grp = as.character(re$grp),
      condval = re$condval,
      condsd = re$condsd
    ),
    singular = isSingular(fit)
  )
}

forms <- list(
  uncentred_cor = "Reaction ~ Days + (Days | Subject)",
  uncentred_uncor = "Reaction ~ Days + (Days || Subject)",
  centred_cor = "Reaction ~ Days_c + (Days_c | Subject)",
  centred_uncor = "Reaction ~ Days_c + (Days_c || Subject)"
)
fits <- lapply(forms, function(f) lmer(as.formula(f), data = sleep, REML = TRUE))

comparison <- function(null, alt) {
  a <- suppressMessages(anova(fits[[null]], fits[[alt]]))
  list(
    models = c(null, alt),
    npar = unname(a$npar),
    AIC = unname(a$AIC),
    BIC = unname(a$BIC),
    loglik = unname(a$logLik),
    chisq = unname(a$Chisq[2]),
    df = unname(a$Df[2]),
    p_value = unname(a[["Pr(>Chisq)"]][2])
  )
}

# nlme: one residual SD for all subjects, or one per subject (REML, same fixed effects).
same_sd <- lme(Reaction ~ Days, random = ~ Days | Subject, data = sleep, method = "REML")
own_sd <- lme(Reaction ~ Days, random = ~ Days | Subject, data = sleep, method = "REML",
              weights = varIdent(form = ~ 1 | Subject))
ll_same <- logLik(same_sd)
ll_own <- logLik(own_sd)
worst <- which.max(abs(residuals(fits$uncentred_cor)))
without <- lmer(Reaction ~ Days + (Days | Subject), data = sleep[-worst, ], REML = TRUE)

out <- list(
  generated_by = "scripts/lme4_centring.R",
  R_version = paste(R.version$major, R.version$minor, sep = "."),
  lme4_version = as.character(packageVersion("lme4")),
  nlme_version = as.character(packageVersion("nlme")),
  days_centre = centre
)
for (key in names(fits)) out[[key]] <- record(fits[[key]], forms[[key]])
out$anova_uncentred <- comparison("uncentred_uncor", "uncentred_cor")
out$anova_centred <- comparison("centred_uncor", "centred_cor")
out$residual_sd_by_subject <- list(
  method = "REML",
  loglik_same = as.numeric(ll_same),
  loglik_own = as.numeric(ll_own),
  df = attr(ll_own, "df") - attr(ll_same, "df"),
  chisq = 2 * (as.numeric(ll_own) - as.numeric(ll_same)),
  p_value = pchisq(2 * (as.numeric(ll_own) - as.numeric(ll_same)),
                   attr(ll_own, "df") - attr(ll_same, "df"), lower.tail = FALSE),
  sigma_same = same_sd$sigma
)
out$without_largest_residual <- list(
  subject = as.character(sleep$Subject[worst]),
  day = sleep$Days[worst],
  sigma = sigma(without),
  fixed = as.list(fixef(without))
)

path <- file.path(out_dir, "sleepstudy_centring_lme4.json")
writeLines(toJSON(out, auto_unbox = TRUE, digits = I(12), pretty = TRUE, null = "null"), path)
cat("wrote", path, "\n")
