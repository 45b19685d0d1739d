"""Streamlit pages, one file each: read state, call domain code, render components. Never SQL, never a session."""
