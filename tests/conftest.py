"""Settings shared by the whole suite."""

from hypothesis import HealthCheck, settings

# The property tests check what is generated, not how fast: on a loaded machine (CI runners
# are shared) a slow example or a slow strategy is not a failure.
settings.register_profile(
    "block-config", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("block-config")
