"""Old import path of the healthcheck/gate policy, which lives in :mod:`cudadoctor.gating.policy` (tests import it from here)."""

from cudadoctor.gating.policy import (  # noqa: F401 - re-exports
    DEFAULT_SOURCE,
    KEYS,
    Policy,
    PolicyError,
    Reason,
    check_selectors,
    driver_text,
    evaluate_policy,
    fatal_first,
    is_fatal,
    load_policy,
    parse_policy,
)
