"""The background refresher: holds sessions, renews them before they expire, and answers
``credhelper process`` over a Unix socket, the way ssh-agent serves keys."""
