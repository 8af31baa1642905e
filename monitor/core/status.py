"""Per-contract evaluation status codes (``int8`` in the book's ``status`` array).

Only ``OK`` contracts carry Greeks and contribute to exposures and levels. Every other
code is counted by name in snapshots and data-quality metrics.
"""

OK = 0
EXPIRED = 1  # past its settlement instant: no Greeks (REFERENCE.md, Pricing model)
NO_QUOTE = 2  # NaN bid/ask, or ask <= 0
CROSSED = 3  # bid > ask
BELOW_INTRINSIC = 4  # mid below the discounted intrinsic value
ABOVE_UPPER = 5  # mid above the no-arbitrage upper bound
IV_NO_CONVERGE = 6  # the solver did not reach the tolerance
NO_VENDOR_IV = 7  # --greeks vendor: the file has no usable IV for this row
NEGATIVE_PRICE = 8  # bid < 0

NAMES = {
    OK: "ok",
    EXPIRED: "expired",
    NO_QUOTE: "no_quote",
    CROSSED: "crossed",
    BELOW_INTRINSIC: "below_intrinsic",
    ABOVE_UPPER: "above_upper_bound",
    IV_NO_CONVERGE: "iv_no_converge",
    NO_VENDOR_IV: "no_vendor_iv",
    NEGATIVE_PRICE: "negative_price",
}

# Where an OK contract's IV came from (the ``iv_source`` row of the book; -1 = no IV)
IV_QUOTE = 0  # the mid of a sane two-sided quote (monitor.core.smile.two_sided)
IV_SMILE = 1  # one-sided, zero-bid or wide quote: its expiry's fitted smile
IV_WIDE_QUOTE = 2  # one-sided or wide quote whose expiry has no smile: its own mid, as is
IV_VENDOR = 3  # --greeks vendor: the file's IV
IV_SMILE_AT_BOUND = 4  # the smile priced it outside its own quote: the IV at the bid or ask

#: the sources that mean "priced off the expiry's smile" (inside the quote or at its bound)
IV_SMILE_SOURCES = (IV_SMILE, IV_SMILE_AT_BOUND)

IV_SOURCE_NAMES = {
    IV_QUOTE: "quote_mid",
    IV_SMILE: "smile",
    IV_WIDE_QUOTE: "wide_quote_mid",
    IV_VENDOR: "vendor",
    IV_SMILE_AT_BOUND: "smile_at_bound",
}
