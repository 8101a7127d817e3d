# Department random or fixed? Three InstEval models fitted by maximum likelihood in lme4.
#
#   Rscript scripts/lme4_insteval_dept.R [--csv <repo>/data/insteval.csv.gz]
#       [--out <repo>/data/reference/insteval_dept_lme4.json]
#
# Chapter 8 compares, by ML (deviance, AIC, BIC, likelihood-ratio test):
#   random:      y ~ service + (1 | s) + (1 | d) + (1 | dept)   (the Edward model)
#   additive:    y ~ service + dept + (1 | s) + (1 | d)          (department fixed)
#   interaction: y ~ service * dept + (1 | s) + (1 | d)          (lme4's performance vignette)
# "random" against "additive" asks how to treat the department (same mean structure, one SD
# against thirteen coefficients); "additive" against "interaction" asks whether the service
# effect differs by department (nested fixed effects, a likelihood-ratio test).
# Each model is one record of scripts/lme4_common.R's layout (criterion: the ML deviance; df:
# the number of parameters) without its conditional modes (an empty ranef); the file's extras
# hold lme4's anova() of the two nested fixed-department models (lrt_interaction).

here <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
source(file.path(dirname(normalizePath(gsub("~\\+~", " ", sub("^--file=", "", here[1])))),
                 "lme4_common.R"))

root <- repo_root()
opts <- list(
  csv = file.path(root, "data", "insteval.csv.gz"),
  out = file.path(root, "data", "reference", "insteval_dept_lme4.json")
)
opts <- named_options(opts)
csv_name <- repo_relative(opts$csv)

data <- read.csv(opts$csv)
for (g in c("s", "d", "dept", "service")) data[[g]] <- factor(data[[g]])

formulas <- list(
  random = y ~ service + (1 | s) + (1 | d) + (1 | dept),
  additive = y ~ service + dept + (1 | s) + (1 | d),
  interaction = y ~ service * dept + (1 | s) + (1 | d)
)
fits <- lapply(formulas, function(f) lmer(f, data = data, REML = FALSE))
records <- lapply(fits, function(fit) {
  fit_record(fit, paste(deparse(formula(fit)), collapse = ""), csv_name, modes = FALSE)
})
write_reference(
  records,
  opts$out,
  extras = list(lrt_interaction = anova_record(fits$additive, fits$interaction,
                                               c("additive", "interaction")))
)
