# Fit a linear mixed model with crossed random intercepts in lme4 and write a JSON reference.
#
# Default: InstEval from the book's cached copy, y ~ service + (1|s) + (1|d) + (1|dept), REML.
#
#   Rscript scripts/lme4_insteval.R [--csv <repo>/data/insteval.csv.gz]
#       [--out <repo>/data/reference/insteval_lme4.json] [--name NAME] [--response y]
#       [--fixed service] [--groups s,d,dept] [--factors service] [--ml]
#
# --fixed and --groups take comma-separated column names ("" for an intercept-only model);
# --factors lists fixed-effect columns to treat as factors although they hold numbers.
# The defaults are in the repository; other relative paths are from the working folder. The JSON holds one fit, NAME (default: the
# output file's name without _lme4.json or .json), as one record of scripts/lme4_common.R's
# layout, with extras: the CSV, the wall time of the lmer() call (fit_seconds), the optimizer
# and its number of evaluations, and theta with its names.
#
# The book's two files:
#   Rscript scripts/lme4_insteval.R
#   Rscript scripts/lme4_insteval.R --csv data/archers_50.csv \
#       --out data/reference/archers_50_crossed_lme4.json --response Distance --fixed Bow \
#       --groups Name --factors Bow

here <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
source(file.path(dirname(normalizePath(gsub("~\\+~", " ", sub("^--file=", "", here[1])))),
                 "lme4_common.R"))

root <- repo_root()
opts <- list(
  csv = file.path(root, "data", "insteval.csv.gz"),
  out = file.path(root, "data", "reference", "insteval_lme4.json"), name = "",
  response = "y", fixed = "service", groups = "s,d,dept", factors = "service", ml = FALSE
)
opts <- named_options(opts)
split_names <- function(x) if (nchar(x) == 0) character(0) else strsplit(x, ",")[[1]]
fixed <- split_names(opts$fixed)
groups <- split_names(opts$groups)
factors <- split_names(opts$factors)
if (nchar(opts$name) == 0) opts$name <- sub("(_lme4)?\\.json$", "", basename(opts$out))
# The CSV as the record names it: relative to the repository where it is inside it.
csv_name <- repo_relative(opts$csv)

data <- read.csv(opts$csv, stringsAsFactors = TRUE)
for (g in c(groups, factors)) data[[g]] <- factor(data[[g]])

rhs <- c(if (length(fixed)) fixed else "1", sprintf("(1 | %s)", groups))
form <- as.formula(paste(opts$response, "~", paste(rhs, collapse = " + ")))

start <- proc.time()[["elapsed"]]
fit <- lmer(form, data = data, REML = !opts$ml)
fit_seconds <- proc.time()[["elapsed"]] - start

record <- fit_record(fit, paste(deparse(form), collapse = ""), csv_name, extras = list(
  fit_seconds = fit_seconds,
  n_evals = fit@optinfo$feval,
  optimizer = fit@optinfo$optimizer,
  theta = I(unname(getME(fit, "theta"))),
  theta_names = I(names(getME(fit, "theta")))
))
write_reference(setNames(list(record), opts$name), opts$out, pretty = FALSE)
cat(sprintf("lmer fit: %.2f s\n", fit_seconds))
