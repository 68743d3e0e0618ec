"""fbocli: upload offline conversions to Meta, mapped as Segment's destination did."""

__version__ = "0.1.0"
