"""Shared test set-up: run TensorFlow as the notebooks' setup cell does (logitlab.setup).

The environment must be set before anything imports TensorFlow, so it is set here, when pytest
loads this file, before it collects the test modules. (The notebooks set it themselves, in their
first cell; tests/test_standalone.py runs them without it.)
"""

import os

from logitlab.notebook import TENSORFLOW_ENV

for _name, _value in TENSORFLOW_ENV.items():
    os.environ.setdefault(_name, _value)
