"""Pure logic of rpl_ros: tasks, controllers, residual runtime, arbitration. No ROS import here."""
