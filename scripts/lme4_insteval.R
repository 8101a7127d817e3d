# Fit a linear mixed model with crossed random intercepts in lme4 and write a JSON reference.
#
# Default: InstEval from the book's cached copy, y ~ service + (1|s) + (1|d) + (1|dept), REML.
#
#   Rscript scripts/lme4_insteval.R [--csv data/insteval.csv.gz]
#       [--out data/reference/insteval_lme4.json] [--response y] [--fixed service]
#       [--groups s,d,dept] [--factors service] [--ml]
#
# --fixed and --groups take comma-separated column names ("" for an intercept-only model);
# --factors lists fixed-effect columns to treat as factors although they hold numbers.
# The JSON holds the fixed effects with standard errors, the standard deviations, theta, the
# REML criterion (or the ML deviance), the wall time of the lmer() call, and for every grouping
# factor the conditional mode and conditional SD of each level.
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

opts <- list(
  csv = "data/insteval.csv.gz", out = "data/reference/insteval_lme4.json",
  response = "y", fixed = "service", groups = "s,d,dept", factors = "service", ml = FALSE
)
args <- commandArgs(trailingOnly = TRUE)
i <- 1
while (i <= length(args)) {
  key <- sub("^--", "", args[i])
  if (key == "ml") {
    opts$ml <- TRUE
    i <- i + 1
    next
  }
  if (!key %in% names(opts) || i == length(args)) stop("bad argument: ", args[i])
  opts[[key]] <- args[i + 1]
  i <- i + 2
}
split_names <- function(x) if (nchar(x) == 0) character(0) else strsplit(x, ",")[[1]]
fixed <- split_names(opts$fixed)
groups <- split_names(opts$groups)
factors <- split_names(opts$factors)

data <- read.csv(opts$csv, stringsAsFactors = TRUE)
for (g in c(groups, factors)) data[[g]] <- factor(data[[g]])

rhs <- c(if (length(fixed)) fixed else "1", sprintf("(1 | %s)", groups))
form <- as.formula(paste(opts$response, "~", paste(rhs, collapse = " + ")))

start <- proc.time()[["elapsed"]]
fit <- lmer(form, data = data, REML = !opts$ml)
fit_seconds <- proc.time()[["elapsed"]] - start

vc <- as.data.frame(VarCorr(fit))
sds <- setNames(as.list(vc$sdcor), ifelse(vc$grp == "Residual", "Residual", vc$grp))
co <- summary(fit)$coefficients
re <- ranef(fit, condVar = TRUE)
ranefs <- list()
for (g in names(re)) {
  pv <- attr(re[[g]], "postVar")
  ranefs[[g]] <- list(
    level = rownames(re[[g]]),
    mode = unname(re[[g]][, 1]),
    cond_sd = sqrt(as.numeric(pv[1, 1, ]))
  )
}
result <- list(
  formula = paste(deparse(form), collapse = ""),
  reml = !opts$ml,
  csv = opts$csv,
  n = nobs(fit),
  lme4_version = as.character(packageVersion("lme4")),
  r_version = R.version.string,
  fit_seconds = fit_seconds,
  n_evals = fit@optinfo$feval,
  optimizer = fit@optinfo$optimizer,
  fixed = list(term = rownames(co), estimate = unname(co[, 1]), se = unname(co[, 2])),
  sds = sds,
  theta = unname(getME(fit, "theta")),
  theta_names = names(getME(fit, "theta")),
  criterion = if (opts$ml) deviance(fit) else REMLcrit(fit),
  criterion_name = if (opts$ml) "deviance" else "REMLcrit",
  ranef = ranefs
)
dir.create(dirname(opts$out), showWarnings = FALSE, recursive = TRUE)
writeLines(toJSON(result, auto_unbox = TRUE, digits = NA, pretty = FALSE), opts$out)
cat(sprintf("lmer fit: %.2f s; wrote %s\n", fit_seconds, opts$out))
