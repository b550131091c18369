"""Hot-swapping residuals under a running graph: 100 signed models pushed while push_sim runs in realtime mode.

The push_sim graph runs at ``--rate`` Hz (realtime: the bridge steps whatever arrived, a cycle without a fresh
action is missed). Once the residual node is up, a pusher process pushes ``--swaps`` signed models, one every
``--interval`` seconds, alternating two residuals that differ by ``--step`` on the first action axis, and an observer
process of its own measures:

- missed control cycles (from the bridge's summary) and the observation -> action latency of the whole run;
- swap-to-active latency: from publishing the envelope to receiving its version on /rpl/residual_model_version
  (the residual node announces it right after the reference swap);
- the jump a swap puts into the applied action: the part of the applied action that is not the base's
  (applied - base, paired by stamp), its largest per-cycle change within ``--window`` s of a swap's
  announcement, against ``--step`` (what the two residuals differ by: the jump there should be).
  Run with ``--swaps 0`` for the missed cycles of the same graph without swaps, with ``--rt-priority 50`` to
  run the graph's nodes under SCHED_FIFO, and with ``--fastdds-profile localhost_udp`` to put the graph and the
  two helpers on UDPv4 alone instead of the LOCALHOST range's shared memory and UDPv4.

    nice -n 10 python bench/hotswap.py [--swaps 100] [--rate 100] [--interval 0.2] [--rt-priority 50]
        [--fastdds-profile localhost_udp]
"""
import argparse
import multiprocessing
import os
import tempfile
import time
from pathlib import Path
from typing import Dict

import numpy as np

from rpl_ros.bringup import fastdds_profile_environment, ros_environment
from rpl_ros.core.envelope import generate_keypair, load_private_key, seal
from rpl_ros.core.observation import ObservationCodec
from rpl_ros.core.residual import build_mlp_onnx
from rpl_ros.core.tasks import task_spec
from rpl_ros.runner import run_graph

from realtime import (add_fastdds_profile_option, add_rt_priority_option, add_run_options, check_rt_priority,
                      clear_fastdds_settings, realtime_push_sim)


def constant_residual(dx: float, obs_dim: int, act_dim: int) -> bytes:
    """A residual that answers (dx, 0, ..., 0) whatever it sees: its swaps show up exactly as dx."""
    hidden = np.random.default_rng(0).normal(size=(obs_dim, 8))
    layers = [(hidden, np.zeros(8)), (np.zeros((8, act_dim)), np.r_[dx, np.zeros(act_dim - 1)])]
    return build_mlp_onnx(layers, np.zeros(obs_dim), np.ones(obs_dim))


def ros_node(name: str, domain_id: int, environment: Dict[str, str], joined):
    """A node of its own DDS participant, on the graph's domain and transports; returns (rclpy, node, executor)
    and sets ``joined``."""
    os.environ.update({**ros_environment(domain_id), **environment})
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node(name)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    joined.set()
    return rclpy, node, executor


def push_models(domain_id: int, environment: Dict[str, str], key_path: Path, args, joined, observing, stop, results):
    """Once the observer is ``observing`` and the residual node is up, push the models; results gets when each
    was pushed."""
    from std_msgs.msg import String, UInt8MultiArray

    from rpl_ros.nodes.common import LATCHED_QOS, RESIDUAL_MODEL, RESIDUAL_MODEL_VERSION

    spec = task_spec("push")
    dims = (ObservationCodec(spec.observation_sizes).policy_input_size, len(spec.action_names))
    models = [constant_residual(0.0, *dims), constant_residual(args.step, *dims)]
    key = load_private_key(key_path)
    rclpy, node, executor = ros_node("hotswap_pusher", domain_id, environment, joined)
    started, pushed = [], {}
    node.create_subscription(String, RESIDUAL_MODEL_VERSION, started.append, LATCHED_QOS)
    publisher = node.create_publisher(UInt8MultiArray, RESIDUAL_MODEL, LATCHED_QOS)
    try:
        # The residual node's first version, and its model subscription matched to this publisher for a while
        # (the bridge's discovery_settle): a model pushed before the match would be lost to all but the last.
        settled_at = None
        while not stop.is_set() and (settled_at is None or time.monotonic() < settled_at):
            executor.spin_once(timeout_sec=0.05)
            if settled_at is None and started and observing.is_set() and publisher.get_subscription_count() > 0:
                settled_at = time.monotonic() + 0.5
        next_push = time.monotonic()
        for i in range(args.swaps):
            while time.monotonic() < next_push and not stop.is_set():
                executor.spin_once(timeout_sec=0.005)
            if stop.is_set():
                break
            version = f"bench-{i}"
            envelope = seal(models[i % 2], version, key)
            pushed[version] = time.monotonic()  # CLOCK_MONOTONIC: one clock for every process of this machine
            publisher.publish(UInt8MultiArray(data=envelope))
            next_push += args.interval
        while not stop.is_set():  # stay, so that the last models are not lost with this participant
            executor.spin_once(timeout_sec=0.05)
    finally:
        results.put(pushed)
        node.destroy_node()
        rclpy.try_shutdown()


def observe(domain_id: int, environment: Dict[str, str], joined, observing, stop, results):
    """Note when each version became active and when each observation, base and applied action arrived;
    ``observing`` is set once the residual node's first version has come (every later one will)."""
    from sensor_msgs.msg import JointState
    from std_msgs.msg import String

    from rpl_ros.nodes.common import ACTION, BASE_ACTION, CONTROL_QOS, LATCHED_QOS, OBSERVATION, RESIDUAL_MODEL_VERSION

    rclpy, node, executor = ros_node("hotswap_observer", domain_id, environment, joined)
    seen = {"active": {}, "applied": {}, "base": {}, "observed": {}}

    def keep(into):
        return lambda m: into.setdefault((m.header.stamp.sec, m.header.stamp.nanosec),
                                         (time.monotonic(), np.asarray(m.position)))

    node.create_subscription(String, RESIDUAL_MODEL_VERSION,
                             lambda m: seen["active"].setdefault(m.data, time.monotonic()), LATCHED_QOS)
    node.create_subscription(JointState, ACTION, keep(seen["applied"]), CONTROL_QOS)
    node.create_subscription(JointState, BASE_ACTION, keep(seen["base"]), CONTROL_QOS)
    node.create_subscription(JointState, OBSERVATION, keep(seen["observed"]), CONTROL_QOS)
    try:
        while not stop.is_set():
            executor.spin_once(timeout_sec=0.01)
            if seen["active"]:
                observing.set()
    finally:
        results.put(seen)
        node.destroy_node()
        rclpy.try_shutdown()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--swaps", type=int, default=100)
    add_run_options(parser)
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between two pushes")
    parser.add_argument("--step", type=float, default=0.05, help="difference of the two residuals on dx")
    add_rt_priority_option(parser)
    add_fastdds_profile_option(parser)
    parser.add_argument("--window", type=float, default=0.05, help="s around a swap to look for the action jump")
    args = parser.parse_args()
    check_rt_priority(parser, args.rt_priority)
    clear_fastdds_settings()
    environment = fastdds_profile_environment(args.fastdds_profile)
    domain_id = 200 + os.getpid() % 30
    # Episodes enough for the start-up and every push, at 50 steps an episode.
    episodes = int((10.0 + args.swaps * args.interval) * args.rate / 50) + 1
    with tempfile.TemporaryDirectory(prefix="rpl_hotswap_") as tmp:
        private, public = generate_keypair(Path(tmp))
        graph = realtime_push_sim(args.rate, episodes, **{"residual_policy.trusted_public_key": str(public)})
        # the observer subscribes to the observations too: the bridge waits for it beside the graph's own
        # subscribers, so that it cannot stand in for the residual node at the start
        graph.node("mujoco_bridge").parameters["wait_for_subscribers"] += 1
        # The observer is a process of its own, apart from the one that seals and pushes the models, so that
        # what it counts late is the graph's lateness, not its own.
        spawn = multiprocessing.get_context("spawn")
        observing, stop, pushed_queue, seen_queue = spawn.Event(), spawn.Event(), spawn.Queue(), spawn.Queue()
        joined = [spawn.Event(), spawn.Event()]
        helpers = [spawn.Process(target=observe, args=(domain_id, environment, joined[0], observing, stop, seen_queue)),
                   spawn.Process(target=push_models, args=(domain_id, environment, private, args, joined[1], observing,
                                                           stop, pushed_queue))]
        for helper in helpers:
            helper.start()
        # The graph starts once both helpers' participants are on the domain: a participant that joins a running
        # graph can stall it for a third of a second (bench/participant_join.py), which is not what this measures.
        try:
            if not all(event.wait(60) for event in joined):
                raise RuntimeError("the observer or the pusher did not join the domain within 60 s")
            # in the main process: run_graph installs signal handlers
            status, summary = run_graph(graph, domain_id, rt_priority=args.rt_priority, environment=environment)
        finally:
            stop.set()
            results, pushed = seen_queue.get(timeout=60), pushed_queue.get(timeout=60)
            for helper in helpers:
                helper.join()
    assert status == 0 and summary is not None, f"the graph failed (status {status})"

    active = results["active"]
    swapped = [v for v in pushed if v in active]
    latency_ms = np.array([active[v] - pushed[v] for v in swapped]) * 1e3
    stamps = sorted(set(results["applied"]) & set(results["base"]))
    times = np.array([results["applied"][s][0] for s in stamps])
    not_base = np.array([results["applied"][s][1] - results["base"][s][1] for s in stamps])
    change = np.abs(np.diff(not_base, axis=0)).max(axis=1)  # per-cycle change of applied - base
    near = [change[(times[1:] > active[v] - args.window) & (times[1:] < active[v] + args.window)] for v in swapped]
    at_swap = max((c.max() for c in near if c.size), default=float("nan"))
    steps = sum(e.steps for e in summary.episodes)
    lat = summary.latency_ms
    print(f"graph: realtime {args.rate:.0f} Hz, Fast DDS {args.fastdds_profile or 'LOCALHOST range'}, achieved "
          f"{summary.control_rate_hz:.1f} steps/s, {steps} steps, "
          f"{summary.missed_text}; observation->action p50 {lat['p50']:.2f} ms, "
          f"p99 {lat['p99']:.2f} ms, max {lat['max']:.2f} ms")
    # Late cycles as the observer process sees them: an observation whose action came after one control period, or
    # never. Counted near swaps and elsewhere, because the whole-run count above also holds what the machine's load
    # does.
    observed = results["observed"]
    obs_times = np.array([t for t, _ in observed.values()])
    late = np.array([s not in results["applied"] or results["applied"][s][0] - observed[s][0] > 1 / args.rate
                     for s in observed])
    swap_times = np.array([active[v] for v in swapped])
    near_swap = (np.abs(obs_times[:, None] - swap_times[None, :]) < args.window).any(axis=1) if swapped \
        else np.zeros(len(obs_times), bool)
    print(f"late cycles seen by the observer: {late[near_swap].sum()} of {near_swap.sum()} within "
          f"{args.window * 1e3:.0f} ms of a swap, {late[~near_swap].sum()} of {(~near_swap).sum()} elsewhere")
    if not swapped:
        return
    print(f"swaps: {len(pushed)} pushed, {len(swapped)} active; swap-to-active p50 "
          f"{np.percentile(latency_ms, 50):.1f} ms, p99 {np.percentile(latency_ms, 99):.1f} ms, "
          f"max {latency_ms.max():.1f} ms")
    print(f"applied - base, largest per-cycle change within {args.window * 1e3:.0f} ms of a swap: {at_swap:.4f} "
          f"(the two residuals differ by {args.step}; {len(stamps)} paired cycles)")


if __name__ == "__main__":
    main()
