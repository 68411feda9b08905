"""Built-in sequence tasks for the examples and the command line."""

from keras_rnnkit.data.sunspots import load_sunspots as load_sunspots
from keras_rnnkit.data.sunspots import sunspot_windows as sunspot_windows
from keras_rnnkit.data.synthetic import adding_problem as adding_problem
