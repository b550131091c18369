"""rpl-ros: the command line of rpl_ros.

  rpl-ros launch push_sim [--episodes N] [--mode lockstep|realtime] ...   run a node graph over DDS
  rpl-ros train --task push --steps N [--base none] [--resume] ...         train a residual, export ONNX
  rpl-ros train --from-recordings DIR --task T --updates N --out OUT       ... from recorded episodes
  rpl-ros eval --task T --policy base|residual.onnx --episodes N [--base C] [--video episode.gif|strip.png]
"""
import argparse
import os
import sys

from rpl_ros.bringup import (DEFAULT_EXECUTOR, EXECUTORS, FASTDDS_PROFILE_HELP, LAUNCH_ARGUMENTS, MAIN_NODE,
                             RT_PRIORITIES, fastdds_profile_environment, fastdds_profiles, load_graph)


def default_domain_id() -> int:
    """The caller's ROS_DOMAIN_ID, or one of our own so that two demos on a machine do not hear each other."""
    return int(os.environ.get("ROS_DOMAIN_ID", 100 + os.getpid() % 100))


def print_summary(summary):
    print(f"\n{'episode':>7} {'seed':>5} {'success':>8} {'return':>8}")
    for e in summary.episodes:
        print(f"{e.episode:>7} {e.seed:>5} {str(e.success):>8} {e.episode_return:>8.1f}")
    lat = summary.latency_ms
    print(f"\n{summary.task} ({summary.mode}): success {summary.success_rate:.2f} "
          f"({sum(e.success for e in summary.episodes)}/{len(summary.episodes)}), "
          f"control rate {summary.control_rate_hz:.1f} steps/s, observation->action latency "
          f"p50 {lat.get('p50', float('nan')):.2f} ms, p99 {lat.get('p99', float('nan')):.2f} ms, "
          f"{summary.missed_text}")


def check_against_base(graph, summary) -> bool:
    """Zero residual must mean exactly the base: replay the same seeds in-process and compare every action."""
    from rpl_ros.core.controllers import make_controller
    from rpl_ros.core.episodes import run_in_process
    from rpl_ros.core.tasks import task_spec

    bridge = graph.node("mujoco_bridge").parameters
    controller = graph.node("base_controller").parameters["controller"] or task_spec(bridge["task"]).controller
    reference = run_in_process(bridge["task"], make_controller(controller), bridge["episodes"], bridge["seed"])
    same = sum(a.actions_sha256 == b.actions_sha256 and a.success == b.success
               for a, b in zip(summary.episodes, reference))
    identical = same == len(reference) == len(summary.episodes)
    print(f"zero residual through the graph vs base controller in-process, same seeds: "
          f"{'identical' if identical else 'DIFFERENT'} on {same}/{len(reference)} episodes "
          f"(every applied action compared)")
    return identical


def residual_stays_zero(graph) -> bool:
    """No start model, no exploration and no trainer pushing models: then the graph must act exactly as its base."""
    residual = graph.node("residual_policy").parameters if "residual_policy" in graph.node_names else {}
    return not (residual.get("model_path") or residual.get("explore_noise") or residual.get("explore_random")
                or any(n.executable == "trainer" for n in graph.nodes))


def cmd_launch(args) -> int:
    from rpl_ros.runner import check_composition, run_graph

    overrides = {name: getattr(args, name) for name in LAUNCH_ARGUMENTS if getattr(args, name) is not None}
    overrides.update(kv.split("=", 1) for kv in args.set)
    try:
        graph = load_graph(args.graph, overrides)
        if MAIN_NODE not in graph.node_names:
            raise ValueError(f"graph {args.graph!r} drives a real arm (it has no {MAIN_NODE}, whose episodes end a "
                             f"run here): start it with ros2 launch rpl_ros {args.graph}.launch.py")
        compose = graph.node_names if args.compose == [] else args.compose or []
        check_composition(graph, compose)
    except ValueError as error:
        print(f"rpl-ros launch: {error}", file=sys.stderr)
        return 2
    if args.rt_priority and MAIN_NODE in graph.node_names and graph.node(MAIN_NODE).parameters["mode"] == "lockstep":
        print("rpl-ros launch: --rt-priority in lockstep mode: the graph steps as fast as it can, and at real-time "
              "priority takes that core from every other process", file=sys.stderr)
    status, summary = run_graph(graph, args.domain_id, args.timeout, compose, args.executor,
                                rt_priority=args.rt_priority,
                                environment=fastdds_profile_environment(args.fastdds_profile))
    if summary is None:
        print("rpl-ros launch: the graph stopped before it finished a run", file=sys.stderr)
        return status or 1
    print_summary(summary)
    bridge = graph.node("mujoco_bridge").parameters
    if bridge["mode"] == "lockstep" and residual_stays_zero(graph) and not args.no_check:
        if not check_against_base(graph, summary):
            return 1
    return status


def cmd_train(args) -> int:
    from rpl_ros.learn.config import args_from_namespace

    train_args = args_from_namespace(args)
    if args.from_recordings:
        return cmd_train_from_recordings(args, train_args)
    # torch is imported here only, never by `rpl-ros launch`
    from rpl_ros.learn.train import BEST_MODEL, MODEL, ResumeMismatch, train

    try:
        result = train(train_args)
    except ResumeMismatch as error:
        print(f"rpl-ros train: {error}", file=sys.stderr)
        return 2
    print(f"{train_args.task}: success {result['success']:.2f}, return {result['return']:.1f} over "
          f"{train_args.eval_episodes} evaluation episodes (seeds {train_args.eval_seed}..); residual exported to "
          f"{train_args.run_dir}/{MODEL}, the best evaluated to {train_args.run_dir}/{BEST_MODEL}")
    return 0


def cmd_train_from_recordings(args, train_args) -> int:
    from pathlib import Path

    from rpl_ros.learn.offline import MODEL, train_from_recordings

    if args.updates is None or args.out is None:
        print("rpl-ros train: --from-recordings needs --updates and --out", file=sys.stderr)
        return 2
    try:
        trainer = train_from_recordings(train_args, Path(args.from_recordings), args.updates, Path(args.out),
                                        args.checkpoint_every)
    except ValueError as error:
        print(f"rpl-ros train: {error}", file=sys.stderr)
        return 1
    print(f"{train_args.task}: {trainer.updates} updates on {trainer.episodes} recorded episodes; residual exported "
          f"to {Path(args.out) / MODEL}")
    return 0


def cmd_eval(args) -> int:
    from rpl_ros.eval import RenderError, evaluate, make_policy, record_episode

    try:
        policy = make_policy(args.task, args.policy, args.base)
    except (ValueError, OSError) as error:
        print(f"rpl-ros eval: {error}", file=sys.stderr)
        return 2
    print(evaluate(args.task, policy, args.policy, args.episodes, args.seed).line())
    if args.video:
        try:
            frames = record_episode(args.task, policy, args.seed, args.video)
        except RenderError as error:
            print(f"rpl-ros eval: {error}", file=sys.stderr)
            return 1
        print(f"episode of seed {args.seed}: {frames} frames saved to {args.video}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rpl-ros", description="Residual Policy Learning on a ROS 2 graph.")
    sub = parser.add_subparsers(dest="command", required=True)
    launch = sub.add_parser(
        "launch", help="run a node graph (config/<graph>.yaml) as separate processes over DDS",
        description="Run a node graph as separate processes over real DDS, as `ros2 launch rpl_ros "
                    "<graph>.launch.py` would, print each episode and a summary (success, return, control rate, "
                    "observation->action latency). In lockstep mode with the zero residual it also replays the "
                    "same seeds with the base controller in-process and checks every applied action is identical.")
    launch.add_argument("graph", help="graph name, e.g. push_sim")
    launch.add_argument("--episodes", type=int, help=LAUNCH_ARGUMENTS["episodes"])
    launch.add_argument("--seed", type=int, help=LAUNCH_ARGUMENTS["seed"])
    launch.add_argument("--mode", choices=["lockstep", "realtime"], help=LAUNCH_ARGUMENTS["mode"])
    launch.add_argument("--task", help=LAUNCH_ARGUMENTS["task"])
    launch.add_argument("--render", action="store_const", const=True, help=LAUNCH_ARGUMENTS["render"])
    launch.add_argument("--model-path", dest="model_path", help=LAUNCH_ARGUMENTS["model_path"])
    launch.add_argument("--set", action="append", default=[], metavar="[NODE.]PARAM=VALUE",
                        help="override any parameter of the graph's YAML (repeatable)")
    launch.add_argument("--domain-id", type=int, default=default_domain_id(),
                        help="ROS_DOMAIN_ID for the graph (default: $ROS_DOMAIN_ID or one of our own)")
    launch.add_argument("--timeout", type=float, help="stop the graph after this many seconds")
    launch.add_argument("--compose", nargs="*", metavar="NODE",
                        help="run these nodes in one process (like a component container), all of them when no "
                             "name follows (give it after the graph's name), e.g. push_sim --compose "
                             "base_controller residual_policy arbitration: the controllers together, the arm apart")
    launch.add_argument("--executor", choices=EXECUTORS, default=DEFAULT_EXECUTOR,
                        help="the executor every node spins on (default: %(default)s)")
    launch.add_argument("--rt-priority", type=int, default=0, choices=RT_PRIORITIES, metavar="0-98",
                        help="run the control path's node processes (not the recorder's or trainer's) under the "
                             "real-time SCHED_FIFO policy at this priority: ordinary processes on the machine then "
                             "no longer preempt them (bench/graph_levers.py). Needs root, CAP_SYS_NICE or "
                             "an rtprio limit; default 0: the ordinary scheduler")
    launch.add_argument("--fastdds-profile", choices=fastdds_profiles(), help=FASTDDS_PROFILE_HELP)
    launch.add_argument("--no-check", action="store_true", help="skip the zero-residual == base check")
    launch.set_defaults(func=cmd_launch)
    from rpl_ros.learn.config import add_arguments  # torch-free: only the learner's settings
    train = sub.add_parser(
        "train", help="train a residual policy (DDPG/TD3 + HER), in-process or from recordings; export ONNX",
        description="Train the residual f(s) on top of the task's base controller (or from scratch with "
                    "--base none) on vectorized MuJoCo environments, evaluating and checkpointing every "
                    "--eval-every steps (progress.csv, TensorBoard under tb/, checkpoint.pt in --run-dir), then "
                    "export residual.onnx for `rpl-ros launch push_sim --model-path`. "
                    "With --from-recordings DIR it trains instead on the episodes the graph recorded "
                    "(`rpl-ros record`): --updates gradient steps in all, with the same learner, burn-in and HER, "
                    "checkpointing into --out (checkpoint.pt, progress.csv) and exporting --out/residual.onnx; "
                    "run again on the same --out, it resumes that run (with any episodes recorded since). "
                    "Episodes the recording does not hold whole are skipped and counted.")
    add_arguments(train)
    offline = train.add_argument_group("training from recordings")
    offline.add_argument("--from-recordings", metavar="DIR",
                         help="train on the complete episodes in the bags of DIR (the recorder's directory) instead "
                              "of simulating; --task and --residual-scale must be those of the recorded graph")
    offline.add_argument("--updates", type=int, metavar="N",
                         help="gradient steps the run in --out has when done (a resumed run continues to N)")
    offline.add_argument("--out", metavar="OUT", help="checkpoint.pt, progress.csv and residual.onnx go here; an "
                                                      "OUT with a checkpoint is resumed")
    offline.add_argument("--checkpoint-every", type=int, default=1000, metavar="N",
                         help="updates between checkpoints (default: 1000)")
    train.set_defaults(func=cmd_train)
    evaluation = sub.add_parser(
        "eval", help="success of a policy on a task, with a confidence interval; optionally a video",
        description="Run seeded episodes in-process (episode i uses seed --seed + i) with the task's base "
                    "controller, or the base plus an ONNX residual summed exactly as the graph does, and print "
                    "success with a 95 % Wilson interval and the mean return. --video renders the first episode "
                    "offscreen (MUJOCO_GL, default egl): .gif for an animation, .png for an image strip.")
    evaluation.add_argument("--task", default="push", help="a task of rpl_ros.core.tasks.TASKS")
    evaluation.add_argument("--policy", default="base", help="'base', or the path of a residual .onnx")
    evaluation.add_argument("--base", default="", metavar="CONTROLLER",
                            help="the base controller, a name of rpl_ros.core.controllers.CONTROLLERS (default: the "
                                 "task's); a residual trained on another base (rpl-ros train --base) needs that one")
    evaluation.add_argument("--episodes", type=int, default=100, help="episodes to run (default: 100)")
    evaluation.add_argument("--seed", type=int, default=0, help="seed of the first episode (default: 0)")
    evaluation.add_argument("--video", help="save the first episode as .gif (animation) or .png (image strip)")
    evaluation.set_defaults(func=cmd_eval)

    keygen = sub.add_parser("keygen", help="make the ed25519 key pair that signs residual models",
                            description="Write NAME.key (private: keep it with the trainer) and NAME.pub (give it "
                                        "to residual_policy's trusted_public_key) into --dir.")
    keygen.add_argument("--dir", default="keys", help="where to write the keys (default: keys)")
    keygen.add_argument("--name", default="rpl_model", help="file name of the pair (default: rpl_model)")
    keygen.set_defaults(func=cmd_keygen)

    push = sub.add_parser("push-model", help="sign an ONNX residual and publish it to the running residual nodes",
                          description="Seal MODEL with the private key and publish it, latched, on "
                                      "/rpl/residual_model; residual_policy nodes verify, load and swap it in "
                                      "between two observations, or refuse it and say why.")
    push.add_argument("model", help="the residual .onnx (as exported by `rpl-ros train`)")
    push.add_argument("--key", required=True, help="the private key from `rpl-ros keygen`")
    push.add_argument("--version", help="the model's version label (default: the file's name and sha256 prefix)")
    push.add_argument("--domain-id", type=int, default=default_domain_id(), help="ROS_DOMAIN_ID of the graph")
    push.add_argument("--wait", type=float, default=5.0, help="seconds to wait for residual nodes (default: 5)")
    push.add_argument("--linger", type=float, default=1.0, help="seconds to stay up for late joiners (default: 1)")
    push.set_defaults(func=cmd_push_model)

    record = sub.add_parser("record", help="record the graph's streams to rosbag2/MCAP, one bag per episode",
                            description="Start the recorder node: observations (with goals), base, residual and "
                                        "applied actions, model versions, e-stop state and episode events go to "
                                        "DIR/bag_NNNNN (rosbag2 layout, MCAP storage), a bag closed at each "
                                        "episode end so a crash loses at most the episode in progress.")
    record.add_argument("--dir", default="recordings", help="where the bags go (default: recordings)")
    record.add_argument("--domain-id", type=int, default=default_domain_id(), help="ROS_DOMAIN_ID of the graph")
    record.set_defaults(func=cmd_record)
    return parser


def cmd_record(args) -> int:
    from rpl_ros.bringup import ros_environment

    command = [sys.executable, "-m", "rpl_ros.nodes.recorder", "--ros-args", "-p", f"directory:={args.dir}"]
    os.execve(sys.executable, command, ros_environment(args.domain_id))


def cmd_keygen(args) -> int:
    from pathlib import Path

    from rpl_ros.core.envelope import generate_keypair

    private, public = generate_keypair(Path(args.dir), args.name)
    print(f"private key: {private} (keep it with the trainer)\npublic key:  {public} "
          f"(residual_policy: trusted_public_key)")
    return 0


def cmd_push_model(args) -> int:
    import hashlib
    from pathlib import Path

    from rpl_ros.bringup import ros_environment
    os.environ.update(ros_environment(args.domain_id))
    from rpl_ros.nodes.push_model import push_model

    model = Path(args.model)
    version = args.version or f"{model.stem}-{hashlib.sha256(model.read_bytes()).hexdigest()[:8]}"
    subscribers = push_model(model, Path(args.key), version, args.wait, args.linger)
    print(f"pushed {model} as version {version} to {subscribers} residual node(s)")
    return 0 if subscribers else 1


def main(argv=None):
    args = build_parser().parse_args(argv)
    sys.exit(args.func(args))


if __name__ == "__main__":
    main()
