"""``python -m sim``: the command line (contract 4).

A command is a short-lived process, so it runs without the cyclic garbage
collector: the model's objects are freed by reference counting (a run leaves
no cyclic garbage that grows with its sagas; ``tests/test_output_speed.py``
checks it), and a collection would only walk them again and again: for 20,000
sagas the collections took a tenth to a fifth of the command's time. What is
left at the end is frozen, so leaving the interpreter does not walk it either.
``sim.cli.main`` itself, called in a process of someone else's, changes nothing.
"""
import gc
import sys

from .cli import main

gc.disable()
code = main()
gc.freeze()
sys.exit(code)
