"""Remote control of jobs, Qt-free (the CLI and the GUI share it).

- ``hosts``: ``HostProfile`` / ``HostStore`` (config_dir()/hosts.json); ``sshconfig`` resolves ~/.ssh/config aliases.
- ``knownhosts`` + ``connection``: verified host keys, paramiko sessions (ProxyJump, ProxyCommand, keepalive),
  ``open_session(profile)`` giving an ``SSHSession`` or, for the ``local`` launcher, a ``LocalSession``.
- ``doctor``: environment check and deploy of this worker version.
- ``launch`` / ``sbatch``: job ids, job directory, detached start or sbatch, previews.
- ``follow``: ``Follower`` / ``follow(job, connect)``, an iterator of ``FollowUpdate`` with reconnects.
- ``registry``: ``JobRegistry`` (SQLite) of jobs and their events. ``jobs``: cancel and fetch.
"""
