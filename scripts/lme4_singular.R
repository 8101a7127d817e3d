# Reference values from lme4 for the random-slopes chapter's singular fit.
#
# The data are the book's singular example, analysis.models.slopes.singular_example(): six archers
# whose own bow effects vary with an SD of half a metre. They are simulated by the book's
# Python package (numpy's generator cannot be reproduced in R), so this script asks Python for
# them, fits Distance ~ Bow + (1 + Bow | Name) by REML with lme4, and writes to
# data/reference/archers_singular_lme4.json: the data themselves (so that the tests can check
# the simulator still produces them), what lme4 says while fitting (its "boundary (singular)
# fit" message), isSingular(), theta, as.data.frame(VarCorr(fit)), the fixed effects and the
# REML criterion.
#
# Usage (from anywhere):  Rscript scripts/lme4_singular.R [OUTPUT_DIR]
# OUTPUT_DIR defaults to <repo>/data/reference. The Python interpreter is <repo>/.venv/bin/python
# unless the environment variable PYTHON names another one.

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

python <- Sys.getenv("PYTHON", file.path(root, ".venv", "bin", "python"))
code <- paste(
  "import sys",
  "from analysis.models.slopes import singular_example",
  "singular_example().data.to_csv(sys.stdout, index=False)",
  sep = "; "
)
csv <- system2(python, c("-c", shQuote(code)), stdout = TRUE)
if (!is.null(attr(csv, "status"))) stop("could not simulate the data with ", python)
d <- read.csv(text = paste(csv, collapse = "\n"), stringsAsFactors = FALSE)
d$Bow <- factor(d$Bow, levels = c("Northwood", "Southwood"))
d$Name <- factor(d$Name, levels = unique(d$Name))

formula <- Distance ~ Bow + (1 + Bow | Name)
messages <- character(0)
warnings_seen <- character(0)
fit <- withCallingHandlers(
  lmer(formula, data = d, REML = TRUE),
  message = function(m) {
    messages <<- c(messages, trimws(conditionMessage(m)))
    invokeRestart("muffleMessage")
  },
  warning = function(w) {
    warnings_seen <<- c(warnings_seen, conditionMessage(w))
    invokeRestart("muffleWarning")
  }
)

vc <- as.data.frame(VarCorr(fit))
fe <- coef(summary(fit))
result <- list(
  model = "Distance ~ Bow + (1 + Bow | Name)",
  REML = TRUE,
  lme4_version = as.character(packageVersion("lme4")),
  n_obs = nrow(d),
  n_groups = nlevels(d$Name),
  messages = I(messages),
  warnings = I(warnings_seen),
  is_singular = isSingular(fit),
  theta = unname(getME(fit, "theta")),
  varcorr = lapply(seq_len(nrow(vc)), function(i) list(
    grp = vc$grp[i],
    var1 = if (is.na(vc$var1[i])) NULL else vc$var1[i],
    var2 = if (is.na(vc$var2[i])) NULL else vc$var2[i],
    vcov = vc$vcov[i],
    sdcor = vc$sdcor[i]
  )),
  fixed = lapply(setNames(seq_len(nrow(fe)), rownames(fe)), function(i)
    list(estimate = unname(fe[i, "Estimate"]), se = unname(fe[i, "Std. Error"]))),
  reml_criterion = unname(REMLcrit(fit)),
  data = list(
    Distance = d$Distance,
    Bow = as.character(d$Bow),
    Name = as.character(d$Name)
  )
)

out <- file.path(out_dir, "archers_singular_lme4.json")
writeLines(toJSON(result, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"), out)
cat("wrote", out, "\n")
