"""The web console of ``timhooks serve`` and ``timhooks listen`` (``/console/``).

``timhooks.console.web`` is the frame (sign-in, CSRF, templates); ``inbox`` the listen console;
``deliveries`` the serve console. Templates and static files ship inside this package.
"""
