# Reference values from lme4 for the general lme4-formula models of analysis/models/lmer.py.
#
# Seven REML fits:
#   sleepstudy       Reaction ~ Days + (Days | Subject)
#   sleepstudy_uncor Reaction ~ Days + (Days || Subject)
#   pastes           strength ~ 1 + (1 | batch/cask)
#   penicillin       diameter ~ 1 + (1 | plate) + (1 | sample)
#   archers_slope    Distance ~ Bow + (1 + Bow | Name)      (data/archers_50.csv)
#   archers_intercept    Distance ~ Bow + (1 | Name)
#   archers_name_bow     Distance ~ Bow + (1 | Name) + (1 | Name:Bow)
# and likelihood-ratio tests after ML refits: anova(uncorrelated, correlated) for sleepstudy,
# anova(archers_intercept, archers_slope).
#
# For each fit it records the fixed effects with standard errors and t values, every row of
# as.data.frame(VarCorr(fit)) (SDs and correlations), sigma, the REML criterion, the logLik,
# AIC and BIC of the REML fit and of its ML refit, every conditional mode with its conditional
# SD (as.data.frame(ranef(fit, condVar = TRUE))), isSingular, the optimizer's convergence
# messages, and the profile-likelihood 95% intervals of confint(method = "profile",
# oldNames = FALSE) (names such as sd_(Intercept)|Subject, cor_Days.(Intercept)|Subject, sigma).
#
# lme4's own data sets are first written to DATA_DIR as CSV (sleepstudy.csv, pastes.csv,
# penicillin.csv) and every model is fitted to the CSV read back, so that Python reads exactly
# the rows R used.
#
# Usage (from anywhere):  Rscript scripts/lme4_lmer.R [OUTPUT_DIR [DATA_DIR]]
# OUTPUT_DIR defaults to <repo>/data/reference (the JSON goes to OUTPUT_DIR/lme4_lmer.json);
# DATA_DIR defaults to <repo>/data. The tests re-run it into a temporary folder.

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

script_path <- function() {
  args <- commandArgs(trailingOnly = FALSE)
  hit <- grep("^--file=", args, value = TRUE)
  if (length(hit) == 0) stop("run this script with Rscript")
  normalizePath(sub("^--file=", "", hit[1]))
}

root <- dirname(dirname(script_path()))
cli <- commandArgs(trailingOnly = TRUE)
out_dir <- if (length(cli) >= 1) cli[1] else file.path(root, "data", "reference")
data_dir <- if (length(cli) >= 2) cli[2] else file.path(root, "data")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)
dir.create(data_dir, showWarnings = FALSE, recursive = TRUE)

# lme4's data sets, written once as plain CSV (factors as their labels).
write_lme4_data <- function(frame, name) {
  path <- file.path(data_dir, name)
  write.csv(frame, path, row.names = FALSE)
  path
}
invisible(write_lme4_data(sleepstudy[, c("Reaction", "Days", "Subject")], "sleepstudy.csv"))
invisible(write_lme4_data(Pastes[, c("strength", "batch", "cask", "sample")], "pastes.csv"))
invisible(write_lme4_data(Penicillin[, c("diameter", "plate", "sample")], "penicillin.csv"))

read_data <- function(path, factors, levels = list()) {
  d <- read.csv(path, stringsAsFactors = FALSE)
  for (col in factors) {
    d[[col]] <- if (!is.null(levels[[col]])) factor(d[[col]], levels = levels[[col]])
                else factor(d[[col]])
  }
  d
}

ml_summary <- function(m) {
  ll <- logLik(m)
  list(
    deviance = unname(deviance(m)),
    loglik = as.numeric(ll),
    df = attr(ll, "df"),
    AIC = AIC(m),
    BIC = BIC(m)
  )
}

describe <- function(fit, csv, formula, profile = TRUE) {
  fe <- coef(summary(fit))
  vc <- as.data.frame(VarCorr(fit))
  re <- as.data.frame(ranef(fit, condVar = TRUE))
  ll <- logLik(fit)
  conv <- fit@optinfo$conv$lme4$messages
  out <- list(
    file = csv,
    formula = formula,
    REML = isREML(fit),
    n_obs = nobs(fit),
    ngrps = as.list(ngrps(fit)),
    fixed = list(
      term = I(rownames(fe)),
      estimate = I(unname(fe[, "Estimate"])),
      se = I(unname(fe[, "Std. Error"])),
      t = I(unname(fe[, "t value"]))
    ),
    varcorr = list(
      grp = vc$grp,
      var1 = ifelse(is.na(vc$var1), "", vc$var1),
      var2 = ifelse(is.na(vc$var2), "", vc$var2),
      vcov = vc$vcov,
      sdcor = vc$sdcor
    ),
    sigma = sigma(fit),
    reml_criterion = unname(REMLcrit(fit)),
    loglik = as.numeric(ll),
    df = attr(ll, "df"),
    AIC = AIC(fit),
    BIC = BIC(fit),
    ml = ml_summary(refitML(fit)),
    ranef = list(
      grpvar = as.character(re$grpvar),
      term = as.character(re$term),
      grp = as.character(re$grp),
      condval = re$condval,
      condsd = re$condsd
    ),
    singular = isSingular(fit),
    converged = length(conv) == 0,
    convergence_messages = if (length(conv) == 0) list() else as.list(conv)
  )
  if (profile) {
    # lme4 warns when a profile is not monotonic (a correlation with a flat likelihood); the
    # warnings are kept in the reference rather than printed.
    notes <- character(0)
    ci <- withCallingHandlers(
      suppressMessages(confint(fit, method = "profile", oldNames = FALSE, level = 0.95)),
      warning = function(w) {
        notes <<- c(notes, conditionMessage(w))
        invokeRestart("muffleWarning")
      }
    )
    out$profile_ci <- list(
      level = 0.95,
      parameter = I(rownames(ci)),
      lower = I(unname(ci[, 1])),
      upper = I(unname(ci[, 2])),
      warnings = I(notes)
    )
  }
  out
}

sleep <- read_data(file.path(data_dir, "sleepstudy.csv"), "Subject")
pastes <- read_data(file.path(data_dir, "pastes.csv"), c("batch", "cask", "sample"))
penicillin <- read_data(file.path(data_dir, "penicillin.csv"), c("plate", "sample"))
archers <- read_data(file.path(root, "data", "archers_50.csv"), c("Bow", "Name"),
                     list(Bow = c("Northwood", "Southwood")))

forms <- list(
  sleepstudy = "Reaction ~ Days + (Days | Subject)",
  sleepstudy_uncor = "Reaction ~ Days + (Days || Subject)",
  pastes = "strength ~ 1 + (1 | batch/cask)",
  penicillin = "diameter ~ 1 + (1 | plate) + (1 | sample)",
  archers_slope = "Distance ~ Bow + (1 + Bow | Name)",
  archers_intercept = "Distance ~ Bow + (1 | Name)",
  archers_name_bow = "Distance ~ Bow + (1 | Name) + (1 | Name:Bow)"
)
fits <- list(
  sleepstudy = lmer(as.formula(forms$sleepstudy), data = sleep, REML = TRUE),
  sleepstudy_uncor = lmer(as.formula(forms$sleepstudy_uncor), data = sleep, REML = TRUE),
  pastes = lmer(as.formula(forms$pastes), data = pastes, REML = TRUE),
  penicillin = lmer(as.formula(forms$penicillin), data = penicillin, REML = TRUE),
  archers_slope = lmer(as.formula(forms$archers_slope), data = archers, REML = TRUE),
  archers_intercept = lmer(as.formula(forms$archers_intercept), data = archers, REML = TRUE),
  archers_name_bow = lmer(as.formula(forms$archers_name_bow), data = archers, REML = TRUE)
)
files <- list(
  sleepstudy = "sleepstudy.csv",
  sleepstudy_uncor = "sleepstudy.csv",
  pastes = "pastes.csv",
  penicillin = "penicillin.csv",
  archers_slope = "archers_50.csv",
  archers_intercept = "archers_50.csv",
  archers_name_bow = "archers_50.csv"
)

out <- list(
  generated_by = "scripts/lme4_lmer.R",
  R_version = paste(R.version$major, R.version$minor, sep = "."),
  lme4_version = as.character(packageVersion("lme4"))
)
for (key in names(fits)) {
  out[[key]] <- describe(fits[[key]], files[[key]], forms[[key]])
}

# Likelihood-ratio tests: anova() refits both models by ML.
anova_summary <- function(null, alt, models) {
  lrt <- suppressMessages(anova(fits[[null]], fits[[alt]]))
  list(
    models = c(null, alt),
    npar = unname(lrt$npar),
    AIC = unname(lrt$AIC),
    BIC = unname(lrt$BIC),
    loglik = unname(lrt$logLik),
    deviance = unname(lrt$deviance),
    chisq = unname(lrt$Chisq[2]),
    df = unname(lrt$Df[2]),
    p_value = unname(lrt[["Pr(>Chisq)"]][2])
  )
}
out$archers_anova <- anova_summary("archers_intercept", "archers_slope")
# The correlation of the sleepstudy model:
lrt <- suppressMessages(anova(fits$sleepstudy_uncor, fits$sleepstudy))
out$sleepstudy_anova <- list(
  models = c("sleepstudy_uncor", "sleepstudy"),
  npar = unname(lrt$npar),
  AIC = unname(lrt$AIC),
  BIC = unname(lrt$BIC),
  loglik = unname(lrt$logLik),
  deviance = unname(lrt$deviance),
  chisq = unname(lrt$Chisq[2]),
  df = unname(lrt$Df[2]),
  p_value = unname(lrt[["Pr(>Chisq)"]][2])
)

path <- file.path(out_dir, "lme4_lmer.json")
writeLines(toJSON(out, auto_unbox = TRUE, digits = I(12), pretty = TRUE, null = "null"), path)
cat("wrote", path, "\n")
