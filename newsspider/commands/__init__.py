"""Project ``scrapy`` commands (``COMMANDS_MODULE``); a module here replaces Scrapy's own of the same name."""
