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
# Each fit is one record of scripts/lme4_common.R's layout, with extras:
#   ml_refit  the record of refitML(fit);
#   profile   the profile-likelihood 95% intervals of confint(method = "profile",
#             oldNames = FALSE) (names such as sd_(Intercept)|Subject,
#             cor_Days.(Intercept)|Subject, sigma) and the warnings lme4 gave.
# The file's extras hold the two anova() tables (archers_anova, sleepstudy_anova).
#
# lme4's own data sets are first written to DATA_DIR as CSV (sleepstudy.csv, pastes.csv,
# penicillin.csv) and every model is fitted to the CSV read back, so that Python reads exactly
# the rows R used.
#
# Usage (from anywhere):  Rscript scripts/lme4_lmer.R [OUTPUT_DIR [DATA_DIR]]
# OUTPUT_DIR defaults to <repo>/data/reference (the JSON goes to OUTPUT_DIR/lme4_lmer.json);
# DATA_DIR defaults to <repo>/data. The tests re-run it into a temporary folder.

here <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
source(file.path(dirname(normalizePath(gsub("~\\+~", " ", sub("^--file=", "", here[1])))),
                 "lme4_common.R"))

dirs <- positional_dirs()
root <- dirs$root
data_dir <- dirs$data

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

describe <- function(fit, csv, formula, profile = TRUE) {
  extras <- list(ml_refit = fit_record(refitML(fit), formula, csv))
  if (profile) {
    # lme4 warns when a profile is not monotonic (a correlation with a flat likelihood); the
    # warnings are kept in the reference rather than printed.
    ci <- quietly(confint(fit, method = "profile", oldNames = FALSE, level = 0.95))
    extras$profile <- profile_record(ci$value, warnings = ci$warnings)
  }
  fit_record(fit, formula, csv, extras = extras)
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

records <- list()
for (key in names(fits)) {
  records[[key]] <- describe(fits[[key]], files[[key]], forms[[key]])
}

# Likelihood-ratio tests: anova() refits both models by ML.
write_reference(
  records,
  file.path(dirs$out, "lme4_lmer.json"),
  extras = list(
    archers_anova = anova_record(fits$archers_intercept, fits$archers_slope,
                                 c("archers_intercept", "archers_slope")),
    # The correlation of the sleepstudy model:
    sleepstudy_anova = anova_record(fits$sleepstudy_uncor, fits$sleepstudy,
                                    c("sleepstudy_uncor", "sleepstudy"))
  )
)
