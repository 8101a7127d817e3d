# Reference values from lme4 for the generalized linear mixed models of analysis/models/glmer.py.
#
# Fits (family, approximation):
#   archers_hits         hit ~ Bow + distance + (1 + Bow | Name)                  binomial, Laplace
#   archers_trials       cbind(hits, shots - hits) ~ Bow + I(distance - 40) + (1 | Name)
#                                                                                 binomial, Laplace
#   archers_trials_agq   the same with nAGQ = 9
#   cbpp                 cbind(incidence, size - incidence) ~ factor(period) + (1 | herd)
#                                                                                 binomial, Laplace
#   cbpp_agq             the same with nAGQ = 9
#   grouseticks          TICKS ~ factor(YEAR) + scale(HEIGHT) + (1 | BROOD) + (1 | INDEX)
#                          + (1 | LOCATION)        Poisson, crossed and observation-level effects
#   grouseticks_nested   TICKS ~ factor(YEAR) + scale(HEIGHT) + (1 | LOCATION/BROOD)   Poisson
#   grouseticks_nb       TICKS ~ factor(YEAR) + scale(HEIGHT) + (1 | LOCATION)   glmer.nb
#   verbagg              r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)
#                                                                  binomial, 316 x 24 crossed
#
# Each fit is one record of scripts/lme4_common.R's layout (method "ML", criterion -2 logLik),
# with extras: family, nAGQ, lme4's deviance() (not -2 logLik for a GLMM), the warnings lme4
# gave, the seconds the fit took, and glmer.nb's theta. The file's extras hold cbpp_devfun:
# lme4's deviance function at cbpp's optimum and four nearby points, and its Hessian.
#
# lme4's data sets are written to DATA_DIR as CSV first (cbpp.csv, grouseticks.csv,
# verbagg.csv, with VerbAgg's r2 as 0/1) and every model is fitted to the CSV read back, so that
# Python reads exactly the rows R used; data/archers_hits.csv (analysis.datasets.archers.
# simulate_hits) is aggregated here to data/archers_hits_trials.csv (hits out of shots).
#
# Usage (from anywhere):  Rscript scripts/lme4_glmer.R [OUTPUT_DIR [DATA_DIR]]
# OUTPUT_DIR defaults to <repo>/data/reference (the JSON goes to OUTPUT_DIR/glmer_lme4.json);
# DATA_DIR defaults to <repo>/data.

here <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
source(file.path(dirname(normalizePath(gsub("~\\+~", " ", sub("^--file=", "", here[1])))),
                 "lme4_common.R"))

dirs <- positional_dirs()
root <- dirs$root
data_dir <- dirs$data

write_csv <- function(frame, name) {
  write.csv(frame, file.path(data_dir, name), row.names = FALSE)
}
write_csv(cbpp[, c("herd", "incidence", "size", "period")], "cbpp.csv")
write_csv(grouseticks[, c("INDEX", "TICKS", "BROOD", "HEIGHT", "YEAR", "LOCATION")],
          "grouseticks.csv")
verb <- VerbAgg[, c("Anger", "Gender", "item", "resp", "id", "btype", "situ", "mode")]
verb$r2 <- as.integer(VerbAgg$r2 == "Y")
write_csv(verb, "verbagg.csv")

hits <- read.csv(file.path(root, "data", "archers_hits.csv"), stringsAsFactors = FALSE)
trials <- aggregate(hit ~ Name + Bow + distance, data = hits,
                    FUN = function(h) c(hits = sum(h), shots = length(h)))
trials <- data.frame(Name = trials$Name, Bow = trials$Bow, distance = trials$distance,
                     hits = trials$hit[, "hits"], shots = trials$hit[, "shots"])
trials <- trials[order(trials$Name, trials$Bow, trials$distance), ]
write_csv(trials, "archers_hits_trials.csv")

# Every text column is a factor with its levels sorted, as pandas' sorted labels.
read_data <- function(name) {
  folder <- if (name == "archers_hits.csv") file.path(root, "data") else data_dir
  d <- read.csv(file.path(folder, name), stringsAsFactors = FALSE)
  for (col in names(d)) if (is.character(d[[col]])) d[[col]] <- factor(d[[col]])
  d
}

fit_one <- function(key, csv, formula, family, nagq = 1) {
  d <- read_data(csv)
  started <- proc.time()[["elapsed"]]
  res <- quietly(
    if (family == "negbin") {
      glmer.nb(as.formula(formula), data = d, nAGQ = nagq)
    } else {
      glmer(as.formula(formula), data = d, nAGQ = nagq,
            family = if (family == "binomial") binomial else poisson)
    }
  )
  seconds <- proc.time()[["elapsed"]] - started
  fit <- res$value
  extras <- list(
    family = family,
    nAGQ = nagq,
    deviance = unname(deviance(fit)),
    warnings = I(res$warnings),
    seconds = seconds
  )
  if (family == "negbin") extras$theta <- unname(getME(fit, "glmer.nb.theta"))
  fit_record(fit, formula, csv, extras = extras)
}

specs <- list(
  archers_hits = list("archers_hits.csv", "hit ~ Bow + distance + (1 + Bow | Name)",
                      "binomial", 1),
  archers_trials = list("archers_hits_trials.csv",
                        "cbind(hits, shots - hits) ~ Bow + I(distance - 40) + (1 | Name)",
                        "binomial", 1),
  archers_trials_agq = list("archers_hits_trials.csv",
                            "cbind(hits, shots - hits) ~ Bow + I(distance - 40) + (1 | Name)",
                            "binomial", 9),
  cbpp = list("cbpp.csv", "cbind(incidence, size - incidence) ~ factor(period) + (1 | herd)",
              "binomial", 1),
  cbpp_agq = list("cbpp.csv",
                  "cbind(incidence, size - incidence) ~ factor(period) + (1 | herd)",
                  "binomial", 9),
  grouseticks = list("grouseticks.csv",
                     paste("TICKS ~ factor(YEAR) + scale(HEIGHT) + (1 | BROOD) + (1 | INDEX)",
                           "+ (1 | LOCATION)"),
                     "poisson", 1),
  grouseticks_nested = list("grouseticks.csv",
                            "TICKS ~ factor(YEAR) + scale(HEIGHT) + (1 | LOCATION/BROOD)",
                            "poisson", 1),
  grouseticks_nb = list("grouseticks.csv",
                        "TICKS ~ factor(YEAR) + scale(HEIGHT) + (1 | LOCATION)",
                        "negbin", 1),
  verbagg = list("verbagg.csv", "r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)",
                 "binomial", 1)
)

records <- list()
for (key in names(specs)) {
  s <- specs[[key]]
  records[[key]] <- fit_one(key, s[[1]], s[[2]], s[[3]], s[[4]])
}
# lme4's own Laplace deviance function (update(devFunOnly = TRUE)) at cbpp's optimum and four
# nearby points: its PIRLS stops at a relative change of 1e-7 and takes the log-determinant
# from the weights of the previous iterate, so it differs from the exact Laplace deviance by an
# amount that varies with the parameters, which is what moves lme4's Hessian-based SEs.
cbpp_data <- read_data("cbpp.csv")
cbpp_fit <- suppressMessages(glmer(as.formula(specs$cbpp[[2]]), data = cbpp_data,
                                   family = binomial))
devfun <- update(cbpp_fit, devFunOnly = TRUE)
x0 <- c(getME(cbpp_fit, "theta"), fixef(cbpp_fit))
steps <- rbind(0, c(0.01, 0, 0, 0, 0), c(0, 0.01, 0, 0, 0), c(0, 0, 0, 0, 0.05),
               c(-0.05, 0.02, 0, 0.02, 0))
points <- t(apply(steps, 1, function(s) x0 + s))
write_reference(
  records,
  file.path(dirs$out, "glmer_lme4.json"),
  extras = list(cbpp_devfun = list(
    parameters = I(unname(points)),
    deviance = I(apply(points, 1, devfun)),
    hessian = I(unname(cbpp_fit@optinfo$derivs$Hessian))
  ))
)
