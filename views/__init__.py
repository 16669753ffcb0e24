"""Streamlit/folium user interface of XunHu: map building and page helpers.

This package is the only place (with ``dashboard.py``) that may import streamlit; it reads data
through ``layers`` and never writes it.
"""
