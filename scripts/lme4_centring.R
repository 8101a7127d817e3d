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
# of scripts/lme4_common.R (each fit's extras: ml_refit, the record of refitML(fit)).
#
# It also records, for chapter 5b's residual checks, nlme's answer to "does each subject have
# a residual SD of their own?": lme(Reaction ~ Days, random = ~ Days | Subject) against the
# same model with weights = varIdent(form = ~ 1 | Subject), both by REML (same fixed effects),
# and the REML fit without subject 332's largest residual (fit without_largest_residual, whose
# extras name the subject and day left out).
#
# Usage (from anywhere):  Rscript scripts/lme4_centring.R [OUTPUT_DIR [DATA_DIR]]
# OUTPUT_DIR defaults to <repo>/data/reference (the JSON goes to
# OUTPUT_DIR/sleepstudy_centring_lme4.json); DATA_DIR defaults to <repo>/data, where
# scripts/lme4_lmer.R wrote sleepstudy.csv.

here <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
source(file.path(dirname(normalizePath(gsub("~\\+~", " ", sub("^--file=", "", here[1])))),
                 "lme4_common.R"))
suppressPackageStartupMessages(library(nlme))

dirs <- positional_dirs()
data_dir <- dirs$data

sleep <- read.csv(file.path(data_dir, "sleepstudy.csv"), stringsAsFactors = FALSE)
sleep$Subject <- factor(sleep$Subject)
centre <- mean(sleep$Days)
sleep$Days_c <- sleep$Days - centre

record <- function(fit, formula) {
  fit_record(fit, formula, "sleepstudy.csv",
             extras = list(ml_refit = fit_record(refitML(fit), formula, "sleepstudy.csv")))
}

forms <- list(
  uncentred_cor = "Reaction ~ Days + (Days | Subject)",
  uncentred_uncor = "Reaction ~ Days + (Days || Subject)",
  centred_cor = "Reaction ~ Days_c + (Days_c | Subject)",
  centred_uncor = "Reaction ~ Days_c + (Days_c || Subject)"
)
fits <- lapply(forms, function(f) lmer(as.formula(f), data = sleep, REML = TRUE))

# nlme: one residual SD for all subjects, or one per subject (REML, same fixed effects).
same_sd <- lme(Reaction ~ Days, random = ~ Days | Subject, data = sleep, method = "REML")
own_sd <- lme(Reaction ~ Days, random = ~ Days | Subject, data = sleep, method = "REML",
              weights = varIdent(form = ~ 1 | Subject))
ll_same <- logLik(same_sd)
ll_own <- logLik(own_sd)
worst <- which.max(abs(residuals(fits$uncentred_cor)))
without <- lmer(Reaction ~ Days + (Days | Subject), data = sleep[-worst, ], REML = TRUE)

records <- lapply(names(fits), function(key) record(fits[[key]], forms[[key]]))
names(records) <- names(fits)
records$without_largest_residual <- fit_record(
  without, "Reaction ~ Days + (Days | Subject)", "sleepstudy.csv",
  extras = list(subject = as.character(sleep$Subject[worst]), day = sleep$Days[worst])
)

write_reference(
  records,
  file.path(dirs$out, "sleepstudy_centring_lme4.json"),
  extras = list(
    nlme_version = as.character(packageVersion("nlme")),
    days_centre = centre,
    anova_uncentred = anova_record(fits$uncentred_uncor, fits$uncentred_cor,
                                   c("uncentred_uncor", "uncentred_cor")),
    anova_centred = anova_record(fits$centred_uncor, fits$centred_cor,
                                 c("centred_uncor", "centred_cor")),
    residual_sd_by_subject = list(
      method = "REML",
      loglik_same = as.numeric(ll_same),
      loglik_own = as.numeric(ll_own),
      df = attr(ll_own, "df") - attr(ll_same, "df"),
      chisq = 2 * (as.numeric(ll_own) - as.numeric(ll_same)),
      p_value = pchisq(2 * (as.numeric(ll_own) - as.numeric(ll_same)),
                       attr(ll_own, "df") - attr(ll_same, "df"), lower.tail = FALSE),
      sigma_same = same_sd$sigma
    )
  )
)
