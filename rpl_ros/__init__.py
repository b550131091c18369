"""rpl_ros: Residual Policy Learning as a ROS 2 package.

The policy that moves the arm is pi(s) + f_theta(s): a fixed hand-made base controller plus a learned
residual that starts at exactly zero. ``rpl_ros.core`` holds the logic (no ROS), ``rpl_ros.nodes`` the thin
rclpy adapters, ``rpl_ros.learn`` the learner (the only place torch is imported).
"""

__version__ = "0.1.0"
