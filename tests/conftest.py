"""Shared test set-up: run TensorFlow as the course's kernel does (see logitlab.kernel).

The environment must be set before anything imports TensorFlow, so it is set here, when pytest
loads this file, before it collects the test modules.
"""

import os

from logitlab.kernel import KERNEL_ENV

for _name, _value in KERNEL_ENV.items():
    os.environ.setdefault(_name, _value)
