"""The commands' computations above the regime rules: ``whatif`` (hedge flow for any
scenario), ``size`` (advice for a position), ``daily`` (the regime engine over daily
chains) and ``live`` (the running service's book, from Redis). Pure functions of books and
settings returning plain data; the CLI renders them (:mod:`monitor.render`).
"""
