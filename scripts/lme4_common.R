# The part every lme4 reference script shares: where the repository is, where to write, one
# record per fitted model, and the JSON writer.
#
# Each script in scripts/ sources this file first:
#
#   here <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
#   source(file.path(dirname(normalizePath(gsub("~\\+~", " ", sub("^--file=", "", here[1])))),
#                    "lme4_common.R"))
#
# and writes ONE layout, read by analysis.book.lme4 (lme4_reference, read_reference):
#
#   {
#     "generated_by": "scripts/<script>.R", "R_version": ..., "lme4_version": ...,
#     "fits": {"<name>": <record>, ...},
#     "extras": {...}                 (quantities about several fits, e.g. anova() tables)
#   }
#
# where a record is the vocabulary of analysis.models.results.FitResult, column by column:
#
#   formula, data (the CSV it was fitted to), method ("REML" or "ML"), n_obs, ngrps,
#   fixed    coef(summary(fit)): term, estimate, std_error, statistic (t or z value)
#   varcorr  as.data.frame(VarCorr(fit)): grp, var1, var2 ("" for none), sdcor
#   ranef    as.data.frame(ranef(fit, condVar = TRUE)): grpvar, term, grp, condval, condsd
#   criterion (REMLcrit of a REML fit, else -2 logLik: lme4's deviance of an lmer ML fit),
#   loglik, df (of logLik), AIC, BIC, singular (isSingular), converged (no optimizer message),
#   extras   what one script adds about this fit (profile intervals, an ML refit, PEV, ...).
#
# Numbers are written with digits = NA (15 significant digits); NaN and NA as null.

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

#' The path of the script Rscript runs (its --file= argument; Rscript writes spaces as ~+~).
script_path <- function() {
  hit <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  if (length(hit) == 0) stop("run this script with Rscript")
  normalizePath(gsub("~\\+~", " ", sub("^--file=", "", hit[1])))
}

#' The repository: the folder above scripts/.
repo_root <- function() dirname(dirname(script_path()))

#' The positional arguments OUTPUT_DIR and DATA_DIR (defaults <repo>/data/reference and
#' <repo>/data), both created if missing.
positional_dirs <- function() {
  root <- repo_root()
  cli <- commandArgs(trailingOnly = TRUE)
  dirs <- list(
    root = root,
    out = if (length(cli) >= 1) cli[1] else file.path(root, "data", "reference"),
    data = if (length(cli) >= 2) cli[2] else file.path(root, "data")
  )
  dir.create(dirs$out, showWarnings = FALSE, recursive = TRUE)
  dir.create(dirs$data, showWarnings = FALSE, recursive = TRUE)
  dirs
}

#' Named options: "--key value" for every name of `defaults`, "--key" alone for a logical
#' default (a switch, set to TRUE); anything else stops the script. Returns `defaults` updated.
named_options <- function(defaults) {
  args <- commandArgs(trailingOnly = TRUE)
  opts <- defaults
  i <- 1
  while (i <= length(args)) {
    key <- sub("^--", "", args[i])
    if (key %in% names(opts) && is.logical(opts[[key]])) {
      opts[[key]] <- TRUE
      i <- i + 1
      next
    }
    if (!key %in% names(opts) || i == length(args)) stop("bad argument: ", args[i])
    opts[[key]] <- args[i + 1]
    i <- i + 2
  }
  opts
}

#' A data file's path as a record names it: relative to the repository when inside it.
repo_relative <- function(path) sub(paste0("^", repo_root(), "/"), "", normalizePath(path))

#' A list that jsonlite writes as an object, {} when empty.
as_object <- function(x = list()) {
  if (length(x) == 0) structure(list(), names = character(0)) else x
}

#' Evaluate a fit (or any expression), keeping lme4's messages and warnings instead of
#' printing them: list(value, messages, warnings).
quietly <- function(expr) {
  messages <- character(0)
  warnings_seen <- character(0)
  value <- withCallingHandlers(
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
  list(value = value, messages = messages, warnings = warnings_seen)
}

#' One fitted lme4 model (lmer, glmer, glmer.nb) as one record of the layout above.
#'
#' @param fit the merMod.
#' @param formula the formula as text (default: deparsed from the fit).
#' @param data the CSV it was fitted to (a name for the reader; NULL to leave it out).
#' @param extras a named list of what the script adds about this fit.
#' @param modes FALSE to leave the conditional modes out (an empty ranef table).
fit_record <- function(fit, formula = NULL, data = NULL, extras = list(), modes = TRUE) {
  fe <- coef(summary(fit))
  fixed <- list(
    term = I(rownames(fe)),
    estimate = I(unname(fe[, "Estimate"])),
    std_error = I(unname(fe[, "Std. Error"]))
  )
  stat <- intersect(c("t value", "z value"), colnames(fe))
  if (length(stat)) fixed$statistic <- I(unname(fe[, stat[1]]))
  vc <- as.data.frame(VarCorr(fit))
  if (modes) {
    re <- as.data.frame(ranef(fit, condVar = TRUE))
  } else {
    re <- data.frame(grpvar = character(0), term = character(0), grp = character(0),
                     condval = numeric(0), condsd = numeric(0))
  }
  ll <- logLik(fit)
  reml <- isREML(fit)
  conv <- fit@optinfo$conv$lme4$messages
  if (is.null(formula)) formula <- paste(deparse(formula(fit)), collapse = "")
  record <- list(formula = formula)
  if (!is.null(data)) record$data <- data
  c(record, list(
    method = if (reml) "REML" else "ML",
    n_obs = nobs(fit),
    ngrps = as.list(ngrps(fit)),
    fixed = fixed,
    varcorr = list(
      grp = I(vc$grp),
      var1 = I(ifelse(is.na(vc$var1), "", vc$var1)),
      var2 = I(ifelse(is.na(vc$var2), "", vc$var2)),
      sdcor = I(vc$sdcor)
    ),
    ranef = list(
      grpvar = I(as.character(re$grpvar)),
      term = I(as.character(re$term)),
      grp = I(as.character(re$grp)),
      condval = I(re$condval),
      condsd = I(re$condsd)
    ),
    criterion = if (reml) unname(REMLcrit(fit)) else -2 * as.numeric(ll),
    loglik = as.numeric(ll),
    df = attr(ll, "df"),
    AIC = AIC(fit),
    BIC = BIC(fit),
    singular = isSingular(fit),
    converged = length(conv) == 0,
    convergence_messages = I(if (length(conv) == 0) character(0) else conv),
    extras = as_object(extras)
  ))
}

#' confint(fit, method = "profile") as columns parm, lower, upper (lme4's oldNames = FALSE
#' names: sd_(Intercept)|g, cor_Days.(Intercept)|g, sigma), with the warnings lme4 gave.
profile_record <- function(ci, level = 0.95, warnings = character(0)) {
  list(
    level = level,
    parm = I(rownames(ci)),
    lower = I(unname(ci[, 1])),
    upper = I(unname(ci[, 2])),
    warnings = I(warnings)
  )
}

#' anova(null, alt) of two fits (lme4 refits REML fits by ML) as columns, one row per model.
anova_record <- function(null_fit, alt_fit, names) {
  a <- suppressMessages(anova(null_fit, alt_fit))
  list(
    models = I(names),
    npar = I(unname(a$npar)),
    AIC = I(unname(a$AIC)),
    BIC = I(unname(a$BIC)),
    loglik = I(unname(a$logLik)),
    deviance = I(unname(a$deviance)),
    chisq = unname(a$Chisq[2]),
    df = unname(a$Df[2]),
    p_value = unname(a[["Pr(>Chisq)"]][2])
  )
}

#' Write fits (a named list of records) and file-level extras in the one layout.
write_reference <- function(fits, path, extras = list(), pretty = TRUE) {
  out <- list(
    generated_by = file.path("scripts", basename(script_path())),
    R_version = paste(R.version$major, R.version$minor, sep = "."),
    lme4_version = as.character(packageVersion("lme4")),
    fits = fits,
    extras = as_object(extras)
  )
  dir.create(dirname(path), showWarnings = FALSE, recursive = TRUE)
  json <- toJSON(out, auto_unbox = TRUE, digits = NA, pretty = pretty, null = "null",
                 na = "null", dataframe = "columns")
  writeLines(json, path)
  cat("wrote", path, "\n")
  invisible(path)
}
