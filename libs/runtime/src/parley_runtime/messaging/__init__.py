"""NATS JetStream: connecting, provisioning, the consume loop and its ack policy, the outbox and its spill
file, request/reply, dead letters and their replay."""
