// The web client's entry point (index.html loads this file): the app
// itself is in app/main.js.
import './app/main.js';
