# Reference values for the uncertainty of predicted archer effects (chapter 5).
#
# Fits Distance ~ Bow + (1 | Name) by REML with lme4 on data/archers_50.csv and
# data/archers_50_unbalanced.csv and writes one record per data set (the layout of
# scripts/lme4_common.R: its ranef holds each archer's conditional mode and conditional SD,
# the SD of alpha_j given the data with the fixed effects held at their estimates) to
# data/reference/archers_pev_lme4.json, with the extra
#   pev_sd  (grp, pev_sd): the full prediction-error SD, sqrt(Var(alpha_hat_j - alpha_j)), from
#           Henderson's mixed-model equations: sigma^2 times the random-effect block of C^{-1},
#           where C = [X'X, X'Z; Z'X, Z'Z + (sigma^2 / sigma_a^2) I]. It also counts the
#           uncertainty of the fixed effects, whose block of sigma^2 C^{-1} is vcov(fit).
#
# Usage (from anywhere):  Rscript scripts/lme4_pev.R [OUTPUT_DIR]
# OUTPUT_DIR defaults to <repo>/data/reference.

here <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
source(file.path(dirname(normalizePath(gsub("~\\+~", " ", sub("^--file=", "", here[1])))),
                 "lme4_common.R"))

dirs <- positional_dirs()

pev_one <- function(csv) {
  d <- read.csv(file.path(dirs$root, "data", csv), stringsAsFactors = FALSE)
  d$Bow <- factor(d$Bow, levels = c("Northwood", "Southwood"))
  d$Name <- factor(d$Name)
  formula <- "Distance ~ Bow + (1 | Name)"
  fit <- lmer(as.formula(formula), data = d, REML = TRUE)
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
  fit_record(fit, formula, csv, extras = list(
    pev_sd = list(grp = I(names), pev_sd = I(unname(pev_sd)))
  ))
}

write_reference(
  list(
    archers_50 = pev_one("archers_50.csv"),
    archers_50_unbalanced = pev_one("archers_50_unbalanced.csv")
  ),
  file.path(dirs$out, "archers_pev_lme4.json")
)
