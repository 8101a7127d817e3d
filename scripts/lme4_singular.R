# Reference values from lme4 for the random-slopes chapter's singular fit.
#
# The data are the book's singular example, analysis.studies.singular.singular_example(): six archers
# whose own bow effects vary with an SD of half a metre. They are simulated by the book's
# Python package (numpy's generator cannot be reproduced in R), so this script asks Python for
# them, fits Distance ~ Bow + (1 + Bow | Name) by REML with lme4, and writes to
# data/reference/archers_singular_lme4.json: the data themselves (so that the tests can check
# the simulator still produces them), what lme4 says while fitting (its "boundary (singular)
# fit" message), isSingular(), theta, as.data.frame(VarCorr(fit)), the fixed effects and the
# REML criterion: one record (fit archers_singular) of scripts/lme4_common.R's layout, with
# extras messages, warnings, theta and data.
#
# Usage (from anywhere):  Rscript scripts/lme4_singular.R [OUTPUT_DIR]
# OUTPUT_DIR defaults to <repo>/data/reference. The Python interpreter is <repo>/.venv/bin/python
# unless the environment variable PYTHON names another one.

here <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
source(file.path(dirname(normalizePath(gsub("~\\+~", " ", sub("^--file=", "", here[1])))),
                 "lme4_common.R"))

dirs <- positional_dirs()
root <- dirs$root

python <- Sys.getenv("PYTHON", file.path(root, ".venv", "bin", "python"))
code <- paste(
  "import sys",
  "from analysis.studies.singular import singular_example",
  "singular_example().data.to_csv(sys.stdout, index=False)",
  sep = "; "
)
csv <- system2(python, c("-c", shQuote(code)), stdout = TRUE)
if (!is.null(attr(csv, "status"))) stop("could not simulate the data with ", python)
d <- read.csv(text = paste(csv, collapse = "\n"), stringsAsFactors = FALSE)
d$Bow <- factor(d$Bow, levels = c("Northwood", "Southwood"))
d$Name <- factor(d$Name, levels = unique(d$Name))

formula <- "Distance ~ Bow + (1 + Bow | Name)"
res <- quietly(lmer(as.formula(formula), data = d, REML = TRUE))
fit <- res$value

write_reference(
  list(archers_singular = fit_record(fit, formula, extras = list(
    messages = I(res$messages),
    warnings = I(res$warnings),
    theta = I(unname(getME(fit, "theta"))),
    data = list(
      Distance = d$Distance,
      Bow = as.character(d$Bow),
      Name = as.character(d$Name)
    )
  ))),
  file.path(dirs$out, "archers_singular_lme4.json")
)
