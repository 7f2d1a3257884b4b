"""Host implementations of process.clef's externs: a toy sensor chain."""


def calibrate(volts: float) -> float:
    return 2.0 * volts - 0.5


def extractScore(x: float) -> float:
    return x * x


def normalize(x: float) -> float:
    return x / (1.0 + abs(x))
