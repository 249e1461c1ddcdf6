"""Engine version, echoed in every result so stored results can be traced to the code."""

ENGINE_VERSION = "1.1.5"
