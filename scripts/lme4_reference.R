# Reference values from lme4 for the book's random-intercept fits.
#
# Fits Distance ~ Bow + (1 | Name) by REML on data/archers_50.csv and
# data/archers_50_unbalanced.csv and writes, for each data set, the fixed effects and their
# standard errors, the two SDs, the REML criterion, the profile-likelihood 95% intervals of
# confint() (.sig01 = archer SD, .sigma = residual SD), and the conditional modes (ranef) with
# their conditional SDs, to data/reference/archers_lme4.json.
#
# Usage (from anywhere):  Rscript scripts/lme4_reference.R [OUTPUT_DIR]
# OUTPUT_DIR defaults to <repo>/data/reference. The tests re-run it into a temporary folder.

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
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

fit_one <- function(csv) {
  d <- read.csv(file.path(root, "data", csv), stringsAsFactors = FALSE)
  d$Bow <- factor(d$Bow, levels = c("Northwood", "Southwood"))
  d$Name <- factor(d$Name)
  fit <- lmer(Distance ~ Bow + (1 | Name), data = d, REML = TRUE)
  fe <- coef(summary(fit))
  vc <- as.data.frame(VarCorr(fit))
  ci <- confint(fit, parm = c(".sig01", ".sigma"), method = "profile", oldNames = TRUE,
                level = 0.95)
  re <- ranef(fit, condVar = TRUE)
  modes <- re$Name[, "(Intercept)"]
  cond_sd <- sqrt(as.numeric(attr(re$Name, "postVar")[1, 1, ]))
  ml <- refitML(fit)
  list(
    file = csv,
    formula = "Distance ~ Bow + (1 | Name)",
    REML = TRUE,
    n_obs = nrow(d),
    n_groups = nlevels(d$Name),
    fixed = lapply(setNames(seq_len(nrow(fe)), rownames(fe)), function(i)
      list(estimate = unname(fe[i, "Estimate"]), se = unname(fe[i, "Std. Error"]))),
    sd_group = vc$sdcor[vc$grp == "Name"],
    sd_resid = vc$sdcor[vc$grp == "Residual"],
    reml_criterion = unname(REMLcrit(fit)),
    ml_deviance = unname(deviance(ml)),
    ml_sd_group = as.data.frame(VarCorr(ml))$sdcor[1],
    ml_sd_resid = sigma(ml),
    profile_ci = list(
      sd_group = list(lower = unname(ci[".sig01", 1]), upper = unname(ci[".sig01", 2])),
      sd_resid = list(lower = unname(ci[".sigma", 1]), upper = unname(ci[".sigma", 2]))
    ),
    ranef = as.list(setNames(modes, rownames(re$Name))),
    ranef_sd = as.list(setNames(cond_sd, rownames(re$Name)))
  )
}

out <- list(
  generated_by = "scripts/lme4_reference.R",
  R_version = paste(R.version$major, R.version$minor, sep = "."),
  lme4_version = as.character(packageVersion("lme4")),
  archers_50 = fit_one("archers_50.csv"),
  archers_50_unbalanced = fit_one("archers_50_unbalanced.csv")
)
path <- file.path(out_dir, "archers_lme4.json")
writeLines(toJSON(out, auto_unbox = TRUE, digits = I(12), pretty = TRUE), path)
cat("wrote", path, "\n")
