"""``keras.layers``: the layers, by Keras' names."""
from .base import Dense, Layer  # noqa: F401
from .conv import AveragePooling2D, Conv2D, MaxPooling2D  # noqa: F401
from .core import (Activation, BatchNormalization, Dropout, Flatten,  # noqa: F401
                   GlobalAveragePooling2D)
from .reshaping import (Embedding, GlobalMaxPooling2D, LeakyReLU, Normalization,  # noqa: F401
                        ReLU, Rescaling, Reshape, Softmax)
from .merge import (Add, Average, Concatenate, Maximum, Minimum, Multiply,  # noqa: F401
                    Subtract, add, average, concatenate, maximum, minimum, multiply, subtract)
from ..graph import Input, InputLayer  # noqa: F401,E402
