"""Replay: what would a policy have done to the shell sessions agents really ran?

One reader module per input format (audit_log, jsonl, text, bash_history, zsh_history, claude, codex), each
yielding the same `ProposedCommand` records (proposed.py); inputs.py opens files, directories and stdin and
detect.py tells their formats; engine.py decides each distinct command once per policy; render.py shows the
result; command.py is `capfence replay`. Nothing is ever executed.
"""
