"""Holds only the ms-swift plugin file: ms-swift puts a plugin's folder on sys.path, so it gets a folder of its own."""

import os

PLUGIN_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'geoaug_swift_plugin.py')
