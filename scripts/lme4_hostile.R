# Reference answers from lme4 for the hostile-input cases of issue 25 (tests/test_hostile_input.py).
#
# Each case is a small data set made here (seeded with R's generator, or a closed form) and
# what lme4 does with it; the data are written into the JSON next to lme4's answer, so that the
# tests fit exactly the same rows with the package's command line. The cases:
#
# * singular_profile: y ~ x + (1 | g) on data without a group effect, a boundary (singular) fit;
#   isSingular() and confint(fit, oldNames = FALSE) (profile intervals; the SD's lower bound 0).
# * singular_correlated: y ~ x + (x | g) where both SDs are 0, so the correlation is NaN;
#   isSingular() and as.data.frame(VarCorr(fit)).
# * constant_response: y ~ 1 + (1 | g) with y constant; whether REMLcrit is finite.
# * rank_deficient: y ~ x + x2 + (1 | g) with x2 = 2 x; lme4's message, the number of dropped
#   columns and REMLcrit (the same whichever of the two columns is dropped).
# * one_level_factor: y ~ f + (1 | g) with f a one-level factor; lme4's error.
# * constant_slope: y ~ 1 + (k | g) with k constant; lme4's warnings.
# * numeric_labels: labels 01..05 and 1..5 read as text; ngrps().
#
# Usage (from anywhere):  Rscript scripts/lme4_hostile.R [OUTPUT_DIR]
# OUTPUT_DIR defaults to <repo>/data/reference; the file is hostile_lme4.json.

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

# Fit, recording lme4's messages and warnings instead of printing them.
quiet_fit <- function(expr) {
  messages <- character(0)
  warnings_seen <- character(0)
  fit <- withCallingHandlers(
    expr,
    message = function(m) {
      messages <<- c(messages, trimws(conditionMessage(m)))
      invokeRestart("muffleMessage")
    },
    warning = function(w) {
      warnings_seen <<- c(warnings_seen, conditionMessage(w))
      invokeRestart("muffleWarning")
    }
  )
  list(fit = fit, messages = messages, warnings = warnings_seen)
}

groups_of <- function(k, each) paste0("g", rep(seq_len(k), each = each))

# singular_profile: the first seed whose fit is singular
x <- rep(0:9, 6)
g <- groups_of(6, 10)
for (seed in 1:200) {
  set.seed(seed)
  y <- round(1 + 0.5 * x + rnorm(60), 4)
  d <- data.frame(y = y, x = x, g = g)
  fit <- quiet_fit(lmer(y ~ x + (1 | g), d))$fit
  if (isSingular(fit)) break
}
ci <- quiet_fit(confint(fit, method = "profile", oldNames = FALSE))$fit
singular_profile <- list(
  seed = seed,
  data = d,
  singular = isSingular(fit),
  confint = data.frame(parm = rownames(ci), lower = ci[, 1], upper = ci[, 2])
)

# singular_correlated: the first seed where both SDs of (x | g) are 0
x <- rep(0:7, 5)
g <- groups_of(5, 8)
for (seed in 1:500) {
  set.seed(seed)
  y <- round(1 + 0.5 * x + rnorm(40), 4)
  d <- data.frame(y = y, x = x, g = g)
  fit <- quiet_fit(lmer(y ~ x + (x | g), d))$fit
  vc <- as.data.frame(VarCorr(fit))
  if (isSingular(fit) && any(is.nan(vc$sdcor))) break
}
singular_correlated <- list(
  seed = seed,
  data = d,
  singular = isSingular(fit),
  correlation_is_nan = is.nan(vc$sdcor[!is.na(vc$var2)])
)

# constant_response
d <- data.frame(y = rep(5, 40), g = groups_of(8, 5))
fit <- quiet_fit(lmer(y ~ 1 + (1 | g), d))$fit
constant_response <- list(data = d, remlcrit_is_finite = is.finite(REMLcrit(fit)))

# rank_deficient
set.seed(11)
x <- rep(1:6, 8)
g <- groups_of(8, 6)
y <- round(10 + 0.3 * x + rnorm(8)[as.integer(factor(g))] + rnorm(48), 4)
d <- data.frame(y = y, x = x, x2 = 2 * x, g = g)
res <- quiet_fit(lmer(y ~ x + x2 + (1 | g), d))
rank_deficient <- list(
  data = d,
  messages = res$messages,
  n_dropped = length(attr(getME(res$fit, "X"), "col.dropped")),
  dropped = names(attr(getME(res$fit, "X"), "col.dropped")),
  fixef = as.list(fixef(res$fit)),
  remlcrit = REMLcrit(res$fit)
)

# one_level_factor
d$f <- "only"
one_level_factor <- list(
  data = d,
  error = tryCatch(
    {
      lmer(y ~ f + (1 | g), d)
      ""
    },
    error = function(e) conditionMessage(e)
  )
)

# constant_slope
d$k <- 1
res <- quiet_fit(lmer(y ~ 1 + (k | g), d))
constant_slope <- list(data = d, warnings = res$warnings)

# numeric_labels: ten groups, five labelled 01..05 and five 1..5
set.seed(5)
labels <- c(sprintf("%02d", 1:5), as.character(1:5))
g <- rep(labels, each = 6)
y <- round(20 + rnorm(10, sd = 3)[match(g, labels)] + rnorm(60), 4)
d <- data.frame(y = y, g = g, stringsAsFactors = FALSE)
as_text <- quiet_fit(lmer(y ~ 1 + (1 | g), d))$fit
d_numbers <- data.frame(y = y, g = factor(as.numeric(g)))  # what read.csv would make of them
as_numbers <- quiet_fit(lmer(y ~ 1 + (1 | g), d_numbers))$fit
numeric_labels <- list(
  data = d,
  ngroups_as_text = unname(ngrps(as_text)),
  ngroups_as_numbers = unname(ngrps(as_numbers))
)

out <- list(
  lme4_version = as.character(packageVersion("lme4")),
  R_version = paste(R.version$major, R.version$minor, sep = "."),
  singular_profile = singular_profile,
  singular_correlated = singular_correlated,
  constant_response = constant_response,
  rank_deficient = rank_deficient,
  one_level_factor = one_level_factor,
  constant_slope = constant_slope,
  numeric_labels = numeric_labels
)
path <- file.path(out_dir, "hostile_lme4.json")
writeLines(toJSON(out, dataframe = "columns", auto_unbox = TRUE, digits = NA, pretty = TRUE),
           path)
cat("wrote", path, "\n")
