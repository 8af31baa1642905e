"""Human output of the commands: terminal tables (``snapshot``, ``whatif``, ``size``,
``daily``) and the flow-curve chart. Each renderer takes the plain data its command
computed (the same object ``--json`` prints) and returns text, so every number shown is one
of the JSON's."""
