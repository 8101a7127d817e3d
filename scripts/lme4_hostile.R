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
# The cases with a usable fit (singular_profile, singular_correlated, rank_deficient,
# numeric_labels: the fit with the labels as text) are records of scripts/lme4_common.R's
# layout, their data and what lme4 said under extras (profile: confint's intervals; messages;
# n_dropped, dropped; ngroups_as_numbers); the others (constant_response, one_level_factor,
# constant_slope) are under the file's extras.
#
# Usage (from anywhere):  Rscript scripts/lme4_hostile.R [OUTPUT_DIR]
# OUTPUT_DIR defaults to <repo>/data/reference; the file is hostile_lme4.json.

here <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
source(file.path(dirname(normalizePath(gsub("~\\+~", " ", sub("^--file=", "", here[1])))),
                 "lme4_common.R"))

dirs <- positional_dirs()

quiet_fit <- function(expr) {
  res <- quietly(expr)
  list(fit = res$value, messages = res$messages, warnings = res$warnings)
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
singular_profile <- fit_record(fit, "y ~ x + (1 | g)",
                               extras = list(seed = seed, data = d, profile = profile_record(ci)))

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
singular_correlated <- fit_record(fit, "y ~ x + (x | g)", extras = list(
  seed = seed,
  data = d,
  correlation_is_nan = is.nan(vc$sdcor[!is.na(vc$var2)])
))

# constant_response
d <- data.frame(y = rep(5, 40), g = groups_of(8, 5))
fit <- quiet_fit(lmer(y ~ 1 + (1 | g), d))$fit
constant_response <- list(data = d, remlcrit_is_finite = is.finite(REMLcrit(fit)))  # no record

# rank_deficient
set.seed(11)
x <- rep(1:6, 8)
g <- groups_of(8, 6)
y <- round(10 + 0.3 * x + rnorm(8)[as.integer(factor(g))] + rnorm(48), 4)
d <- data.frame(y = y, x = x, x2 = 2 * x, g = g)
res <- quiet_fit(lmer(y ~ x + x2 + (1 | g), d))
rank_deficient <- fit_record(res$fit, "y ~ x + x2 + (1 | g)", extras = list(
  data = d,
  messages = res$messages,
  n_dropped = length(attr(getME(res$fit, "X"), "col.dropped")),
  dropped = names(attr(getME(res$fit, "X"), "col.dropped"))
))

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
constant_slope <- list(data = d, warnings = res$warnings)  # a degenerate fit: no record

# numeric_labels: ten groups, five labelled 01..05 and five 1..5
set.seed(5)
labels <- c(sprintf("%02d", 1:5), as.character(1:5))
g <- rep(labels, each = 6)
y <- round(20 + rnorm(10, sd = 3)[match(g, labels)] + rnorm(60), 4)
d <- data.frame(y = y, g = g, stringsAsFactors = FALSE)
as_text <- quiet_fit(lmer(y ~ 1 + (1 | g), d))$fit
d_numbers <- data.frame(y = y, g = factor(as.numeric(g)))  # what read.csv would make of them
as_numbers <- quiet_fit(lmer(y ~ 1 + (1 | g), d_numbers))$fit
numeric_labels <- fit_record(as_text, "y ~ 1 + (1 | g)", extras = list(
  data = d,
  ngroups_as_numbers = unname(ngrps(as_numbers))
))

write_reference(
  list(
    singular_profile = singular_profile,
    singular_correlated = singular_correlated,
    rank_deficient = rank_deficient,
    numeric_labels = numeric_labels
  ),
  file.path(dirs$out, "hostile_lme4.json"),
  extras = list(
    constant_response = constant_response,
    one_level_factor = one_level_factor,
    constant_slope = constant_slope
  )
)
