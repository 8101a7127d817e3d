# Reference values for the uncertainty of predicted archer effects (chapter 5).
#
# Fits Distance ~ Bow + (1 | Name) by REML with lme4 on data/archers_50.csv and
# data/archers_50_unbalanced.csv and writes, for each data set and archer:
#   * the conditional mode and its conditional SD, from ranef(fit, condVar = TRUE): the SD of
#     alpha_j given the data with the fixed effects held at their estimates;
#   * the full prediction-error SD, sqrt(Var(alpha_hat_j - alpha_j)), from Henderson's mixed-model
#     equations: sigma^2 times the random-effect block of C^{-1}, where
#     C = [X'X, X'Z; Z'X, Z'Z + (sigma^2 / sigma_a^2) I]. It also counts the uncertainty of the
#     fixed effects, whose block of sigma^2 C^{-1} is vcov(fit).
# and the fixed effects' standard errors, to data/reference/archers_pev_lme4.json.
#
# Usage (from anywhere):  Rscript scripts/lme4_pev.R [OUTPUT_DIR]
# OUTPUT_DIR defaults to <repo>/data/reference.

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

pev_one <- function(csv) {
  d <- read.csv(file.path(root, "data", csv), stringsAsFactors = FALSE)
  d$Bow <- factor(d$Bow, levels = c("Northwood", "Southwood"))
  d$Name <- factor(d$Name)
  fit <- lmer(Distance ~ Bow + (1 | Name), data = d, REML = TRUE)
  re <- ranef(fit, condVar = TRUE)
  cond_sd <- sqrt(as.numeric(attr(re$Name, "postVar")[1, 1, ]))
  # Henderson's mixed-model equations at the REML estimates.
  X <- getME(fit, "X")
  Z <- as.matrix(getME(fit, "Z"))
  s2 <- sigma(fit)^2
  va <- as.data.frame(VarCorr(fit))$vcov[1]
  C <- rbind(cbind(crossprod(X), crossprod(X, Z)),
             cbind(crossprod(Z, X), crossprod(Z) + diag(s2 / va, ncol(Z))))
  Cinv <- s2 * solve(C)
  p <- ncol(X)
  pev_sd <- sqrt(diag(Cinv)[-seq_len(p)])
  # The fixed-effect block is lme4's vcov(); check it here so the reference is self-consistent.
  stopifnot(max(abs(Cinv[seq_len(p), seq_len(p)] - as.matrix(vcov(fit)))) < 1e-8)
  # lme4's condVar is sigma^2 (Z'Z + (sigma^2 / sigma_a^2) I)^{-1}: the same C without X.
  stopifnot(max(abs(cond_sd - sqrt(s2 / (colSums(Z) + s2 / va)))) < 1e-8)
  names <- rownames(re$Name)
  stopifnot(identical(colnames(Z), names))
  list(
    file = csv,
    formula = "Distance ~ Bow + (1 | Name)",
    REML = TRUE,
    sd_group = sqrt(va),
    sd_resid = sigma(fit),
    fixed_se = as.list(setNames(sqrt(diag(as.matrix(vcov(fit)))), colnames(X))),
    ranef = as.list(setNames(re$Name[, "(Intercept)"], names)),
    cond_sd = as.list(setNames(cond_sd, names)),
    pev_sd = as.list(setNames(pev_sd, names))
  )
}

out <- list(
  generated_by = "scripts/lme4_pev.R",
  R_version = paste(R.version$major, R.version$minor, sep = "."),
  lme4_version = as.character(packageVersion("lme4")),
  archers_50 = pev_one("archers_50.csv"),
  archers_50_unbalanced = pev_one("archers_50_unbalanced.csv")
)
path <- file.path(out_dir, "archers_pev_lme4.json")
writeLines(toJSON(out, auto_unbox = TRUE, digits = I(12), pretty = TRUE), path)
cat("wrote", path, "\n")
