"""Built-in sequence tasks for the examples and the command line."""

from keras_rnnkit.data.digits import digit_sequences as digit_sequences
from keras_rnnkit.data.examples import example_csv as example_csv
from keras_rnnkit.data.sunspots import load_sunspots as load_sunspots
from keras_rnnkit.data.sunspots import sunspot_windows as sunspot_windows
from keras_rnnkit.data.synthetic import adding_problem as adding_problem
from keras_rnnkit.data.synthetic import copy_task as copy_task
from keras_rnnkit.data.synthetic import plan_sequences as plan_sequences
from keras_rnnkit.data.synthetic import shifted_patterns as shifted_patterns
from keras_rnnkit.data.synthetic import temporal_xor as temporal_xor
from keras_rnnkit.data.tasks import TASKS as TASKS
from keras_rnnkit.data.tasks import load_file as load_file
from keras_rnnkit.data.tasks import load_task as load_task
