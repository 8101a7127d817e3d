# Reference values from lme4 for the book's random-intercept fits.
#
# Fits Distance ~ Bow + (1 | Name) by REML on data/archers_50.csv and
# data/archers_50_unbalanced.csv and writes one record per data set (the layout of
# scripts/lme4_common.R) to data/reference/archers_lme4.json, with extras:
#   profile   the profile-likelihood 95% intervals of confint() for the archer SD and sigma;
#   ml_refit  the record of refitML(fit) (its deviance is the record's criterion).
#
# Usage (from anywhere):  Rscript scripts/lme4_reference.R [OUTPUT_DIR]
# OUTPUT_DIR defaults to <repo>/data/reference. The tests re-run it into a temporary folder.

here <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
source(file.path(dirname(normalizePath(gsub("~\\+~", " ", sub("^--file=", "", here[1])))),
                 "lme4_common.R"))

dirs <- positional_dirs()

fit_one <- function(csv) {
  d <- read.csv(file.path(dirs$root, "data", csv), stringsAsFactors = FALSE)
  d$Bow <- factor(d$Bow, levels = c("Northwood", "Southwood"))
  d$Name <- factor(d$Name)
  formula <- "Distance ~ Bow + (1 | Name)"
  fit <- lmer(as.formula(formula), data = d, REML = TRUE)
  ci <- suppressMessages(confint(fit, parm = c(".sig01", ".sigma"), method = "profile",
                                 oldNames = TRUE, level = 0.95))
  rownames(ci) <- c("sd_(Intercept)|Name", "sigma")  # the names of oldNames = FALSE
  fit_record(fit, formula, csv, extras = list(
    profile = profile_record(ci),
    ml_refit = fit_record(refitML(fit), formula, csv)
  ))
}

write_reference(
  list(
    archers_50 = fit_one("archers_50.csv"),
    archers_50_unbalanced = fit_one("archers_50_unbalanced.csv")
  ),
  file.path(dirs$out, "archers_lme4.json")
)
