<?php
// The same hello for PHP-FPM behind the same nginx.
header('Content-Type: text/plain');
header('Content-Length: 13');
echo 'Hello, world!';
