"""The Flask web application: agents, supervisors, admins and end users."""
