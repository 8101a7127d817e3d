# Department random or fixed? Three InstEval models fitted by maximum likelihood in lme4.
#
#   Rscript scripts/lme4_insteval_dept.R [--csv data/insteval.csv.gz]
#       [--out data/reference/insteval_dept_lme4.json]
#
# Chapter 8 compares, by ML (deviance, AIC, BIC, likelihood-ratio test):
#   random:      y ~ service + (1 | s) + (1 | d) + (1 | dept)   (the Edward model)
#   additive:    y ~ service + dept + (1 | s) + (1 | d)          (department fixed)
#   interaction: y ~ service * dept + (1 | s) + (1 | d)          (lme4's performance vignette)
# "random" against "additive" asks how to treat the department (same mean structure, one SD
# against thirteen coefficients); "additive" against "interaction" asks whether the service
# effect differs by department (nested fixed effects, a likelihood-ratio test).
# The JSON holds, for every model, the formula, the number of parameters, the deviance, AIC,
# BIC, the standard deviations and the fixed effects, plus lme4's anova() of the two nested
# fixed-department models.
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

opts <- list(csv = "data/insteval.csv.gz", out = "data/reference/insteval_dept_lme4.json")
args <- commandArgs(trailingOnly = TRUE)
i <- 1
while (i <= length(args)) {
  key <- sub("^--", "", args[i])
  if (!key %in% names(opts) || i == length(args)) stop("bad argument: ", args[i])
  opts[[key]] <- args[i + 1]
  i <- i + 2
}

data <- read.csv(opts$csv)
for (g in c("s", "d", "dept", "service")) data[[g]] <- factor(data[[g]])

formulas <- list(
  random = y ~ service + (1 | s) + (1 | d) + (1 | dept),
  additive = y ~ service + dept + (1 | s) + (1 | d),
  interaction = y ~ service * dept + (1 | s) + (1 | d)
)
fits <- lapply(formulas, function(f) lmer(f, data = data, REML = FALSE))

describe <- function(fit) {
  vc <- as.data.frame(VarCorr(fit))
  co <- summary(fit)$coefficients
  list(
    formula = paste(deparse(formula(fit)), collapse = ""),
    n_params = attr(logLik(fit), "df"),
    deviance = deviance(fit),
    aic = AIC(fit),
    bic = BIC(fit),
    sds = setNames(as.list(vc$sdcor), ifelse(vc$grp == "Residual", "Residual", vc$grp)),
    fixed = list(term = rownames(co), estimate = unname(co[, 1]), se = unname(co[, 2]))
  )
}
lrt <- anova(fits$additive, fits$interaction)
result <- list(
  csv = opts$csv,
  n = nobs(fits$random),
  reml = FALSE,
  lme4_version = as.character(packageVersion("lme4")),
  r_version = R.version.string,
  models = lapply(fits, describe),
  lrt_interaction = list(
    chisq = lrt$Chisq[2], df = lrt$Df[2], p_value = lrt[["Pr(>Chisq)"]][2]
  )
)
dir.create(dirname(opts$out), showWarnings = FALSE, recursive = TRUE)
writeLines(toJSON(result, auto_unbox = TRUE, digits = NA, pretty = TRUE), opts$out)
cat(sprintf("wrote %s\n", opts$out))
