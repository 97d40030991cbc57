"""Routing: agents, skills, presence, capacity, assignment, queues and service levels."""
