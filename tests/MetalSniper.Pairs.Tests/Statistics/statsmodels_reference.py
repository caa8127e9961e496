"""Reference figures for the C# pair statistics, computed with statsmodels (Debian's python3-statsmodels).

Usage: python3 statsmodels_reference.py <anglo_american_AGLJO_AALL_fx_daily.csv>
Prints one JSON object: the statsmodels version, then one entry per case (adfuller on the JSE-over-LSE premium and on
log(agl_jo_in_gbp_pence) for each regression and lag rule; coint(log jse_in_gbp, log lse) and
coint(log jse_in_gbp, log gbpusd), each with the lag statsmodels used on the residuals). Called by StatsmodelsCrossCheckTests; installs nothing.
"""
import csv
import json
import sys

import numpy as np
import statsmodels
from statsmodels.regression.linear_model import OLS
from statsmodels.tsa.stattools import adfuller, coint


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    premium = np.array([float(r["premium_jse_over_lse"]) for r in rows])
    jse_gbp = np.array([float(r["agl_jo_in_gbp_pence"]) for r in rows])
    lse = np.array([float(r["aal_l_adjclose_gbp_pence"]) for r in rows])
    gbpusd = np.array([float(r["gbpusd"]) for r in rows])
    return premium, jse_gbp, lse, gbpusd


def adf_case(name, series, regression, autolag, maxlag):
    res = adfuller(series, maxlag=maxlag, regression=regression, autolag=autolag)
    stat, p, usedlag, nobs, crit = res[0], res[1], res[2], res[3], res[4]
    return {
        "name": name,
        "regression": regression,
        "autolag": autolag if autolag is not None else "fixed",
        "maxlag": maxlag,
        "statistic": float(stat),
        "pvalue": float(p),
        "usedlag": int(usedlag),
        "nobs": int(nobs),
        "crit1": float(crit["1%"]),
        "crit5": float(crit["5%"]),
        "crit10": float(crit["10%"]),
    }


def coint_case(y, x):
    stat, p, crit = coint(y, x, trend="c", autolag="aic")
    # coint does not return the lag; it is adfuller's on the residuals of y = a + b x (regression "n", autolag "aic").
    fit = OLS(y, np.column_stack([np.ones_like(x), x])).fit()
    resid_adf = adfuller(fit.resid, regression="n", autolag="AIC")
    return {
        "statistic": float(stat),
        "pvalue": float(p),
        "crit1": float(crit[0]),
        "crit5": float(crit[1]),
        "crit10": float(crit[2]),
        "usedlag": int(resid_adf[2]),
        "intercept": float(fit.params[0]),
        "hedge_ratio": float(fit.params[1]),
        "nobs": int(len(y)),
    }


def main():
    premium, jse_gbp, lse, gbpusd = read(sys.argv[1])
    series = {"premium": premium, "log_jse_in_gbp": np.log(jse_gbp)}
    cases = []
    for name, s in series.items():
        for regression in ("n", "c", "ct"):
            for autolag in ("AIC", "BIC", "t-stat"):
                cases.append(adf_case(name, s, regression, autolag, None))
            cases.append(adf_case(name, s, regression, None, 5))
    result = {
        "statsmodels": statsmodels.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "adf": cases,
        # The pair itself, then a pair that is not cointegrated (the JSE price in GBP against GBP/USD), whose p-value lies
        # away from 0 and so exercises MacKinnon's N = 2 distribution function.
        "coint": coint_case(np.log(jse_gbp), np.log(lse)),
        "coint_gbpusd": coint_case(np.log(jse_gbp), np.log(gbpusd)),
    }
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
