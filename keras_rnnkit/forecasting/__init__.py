"""Forecasters that carry their own scaling, the baselines they must beat, and their scores."""

from keras_rnnkit.forecasting.baselines import LeastSquaresAR as LeastSquaresAR
from keras_rnnkit.forecasting.baselines import persistence as persistence
from keras_rnnkit.forecasting.baselines import regression_baselines as regression_baselines
from keras_rnnkit.forecasting.baselines import series_feature as series_feature
from keras_rnnkit.forecasting.diagnostics import LjungBox as LjungBox
from keras_rnnkit.forecasting.diagnostics import ResidualAutocorrelation as ResidualAutocorrelation
from keras_rnnkit.forecasting.diagnostics import ljung_box as ljung_box
from keras_rnnkit.forecasting.diagnostics import plot_residuals as plot_residuals
from keras_rnnkit.forecasting.diagnostics import plot_response as plot_response
from keras_rnnkit.forecasting.diagnostics import (
    residual_autocorrelation as residual_autocorrelation,
)
from keras_rnnkit.forecasting.ensemble import average as average
from keras_rnnkit.forecasting.ensemble import fit_members as fit_members
from keras_rnnkit.forecasting.future import Forecast as Forecast
from keras_rnnkit.forecasting.future import SeriesForecaster as SeriesForecaster
from keras_rnnkit.forecasting.future import conformal_intervals as conformal_intervals
from keras_rnnkit.forecasting.future import forecast as forecast
from keras_rnnkit.forecasting.future import multi_step_forecasts as multi_step_forecasts
from keras_rnnkit.layers.autoregression import LinearAutoregression as LinearAutoregression
from keras_rnnkit.layers.last_observed import LastObserved as LastObserved
from keras_rnnkit.losses import ScaledMeanSquaredError as ScaledMeanSquaredError
from keras_rnnkit.models.scaling import in_raw_units as in_raw_units
from keras_rnnkit.models.scaling import input_standardization as input_standardization
from keras_rnnkit.models.scaling import output_unscaling as output_unscaling
