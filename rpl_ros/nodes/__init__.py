"""Thin rclpy adapters over rpl_ros.core, one node a file."""
