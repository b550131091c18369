"""The graph's topic names and how its messages are paired: shared by the nodes and by what reads their recordings
(rpl_ros.learn.recordings), which needs no ROS middleware."""

OBSERVATION = "/rpl/observation"
BASE_ACTION = "/rpl/base_action"
RESIDUAL_ACTION = "/rpl/residual_action"
ACTION = "/rpl/action"
EPISODE = "/rpl/episode"
RESIDUAL_MODEL = "/rpl/residual_model"
ESTOP = "/rpl/estop"
ESTOP_STATE = "/rpl/estop_state"
ARBITRATION_EVENT = "/rpl/arbitration_event"
RESIDUAL_MODEL_VERSION = "/rpl/residual_model_version"
DIAGNOSTICS = "/diagnostics"


def stamp_key(stamp) -> int:
    """A stamp (builtin_interfaces/Time) as one integer, to pair the messages that answer the same observation."""
    return stamp.sec * 1_000_000_000 + stamp.nanosec
