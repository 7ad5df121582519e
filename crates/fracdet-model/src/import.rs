//! Weight import (issue #3).
